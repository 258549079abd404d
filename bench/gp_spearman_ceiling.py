#!/usr/bin/python3
"""How well could any per-atom force std rank the force errors of one run?

  /usr/bin/python3 bench/gp_spearman_ceiling.py PREDICTED.xyz REFERENCE.xyz
      [--group run] [--prefix] [--bootstrap 20] [--seed 0]

PREDICTED is `otfgp eval`'s output on the frames of REFERENCE (same frames,
same order; it carries the `force_std` column of a calibrated model and the
predicted forces), e.g. W/held_out_predicted_50.xyz and W/held_out.xyz of
`bench/gp_learning.py cuni --sizes 50 --work W`. Frames are grouped by the
info key --group (gp_learning's `run`; with --prefix by its text before the
first "_", e.g. the composition of Ba–Rh–O's BaO_0GPa_300K).

A std σ_i means: the force error of atom i is drawn from N(0, σ_i² I₃). If
that holds for some per-atom scale s_i — the best std there could be — the
squared error e_i = |ΔF_i|² is s_i² times a χ² variable with 3 degrees of
freedom, and the data fix the distribution G of s² (not which atom has which
s). Per run this fits G by maximum likelihood — nonparametric (the NPMLE on
a log grid, by EM; also smoothed, each support point spread as a lognormal of
width 0.25 or 0.5, since the NPMLE is discrete even when the scales are not),
s² lognormal, s² gamma — and reports for each the Spearman correlation a std
equal to s_i would reach on errors drawn from it. The "ceiling" is the
highest of them among the fits within 2 log-likelihood units of the NPMLE:
no std, however computed, ranks this run's errors better on average when the
errors are Gaussian given their scale and G is one the data allow. Beside it:
the observed Spearman(force_std, |ΔF|) and the "self-consistent" value the
model's own std would reach if it were exactly right. docs/BENCHMARKS.md
"How far a std can rank force errors within one run".
"""
import argparse

import numpy as np
from ase.io import read
from scipy.optimize import minimize
from scipy.special import gammaln
from scipy.stats import gamma, spearmanr

SIMULATED = 200000
PLAUSIBLE = 2.0  # a fit within this many log-likelihood units of the NPMLE counts


def chi2_3_log_density(e, s2):
    """log density of e = s2 * χ²₃, broadcast over e (atoms) and s2 (scales)."""
    return 0.5 * np.log(e) - e / (2 * s2) - 1.5 * np.log(s2) - 1.5 * np.log(2.0) - gammaln(1.5)


def npmle(e, points=200, iterations=2000):
    """Grid and weights of the nonparametric ML distribution of s² (EM)."""
    grid = np.geomspace(e.min() / 30, e.max(), points)
    log_f = chi2_3_log_density(e[:, None], grid[None, :])
    f = np.exp(log_f - log_f.max(axis=1, keepdims=True))
    w = np.full(points, 1.0 / points)
    for _ in range(iterations):
        posterior = f * w
        posterior /= posterior.sum(axis=1, keepdims=True)
        w_new = posterior.mean(axis=0)
        if np.abs(w_new - w).max() < 1e-10:
            w = w_new
            break
        w = w_new
    log_lik = np.sum(np.log((f * w).sum(axis=1)) + log_f.max(axis=1))
    return grid, w, log_lik


def mixture_log_likelihood(e, sample_s2):
    """Monte-Carlo log likelihood of e under s² drawn as sample_s2."""
    log_f = chi2_3_log_density(e[:, None], sample_s2[None, :])
    top = log_f.max(axis=1, keepdims=True)
    return np.sum(np.log(np.exp(log_f - top).mean(axis=1)) + top[:, 0])


def fit_family(e, family, rng):
    """ML fit of a two-parameter s² family; returns a sampler and the log likelihood."""
    normal = rng.standard_normal(400)
    uniform = (np.arange(400) + 0.5) / 400

    def draw(params, n=None, generator=None):
        location, log_width = params
        width = np.exp(log_width)
        if family == "lognormal":
            z = normal if n is None else generator.standard_normal(n)
            return np.exp(location + width * z)
        shape = 1.0 / width**2  # gamma with mean exp(location), CV width
        u = uniform if n is None else generator.random(n)
        return gamma.ppf(u, shape, scale=np.exp(location) / shape)

    start = [np.log(e.mean() / 3), np.log(0.5)]
    best = minimize(lambda p: -mixture_log_likelihood(e, draw(p)), start, method="Nelder-Mead",
                    options={"xatol": 1e-3, "fatol": 1e-3, "maxiter": 400})
    return (lambda n, g: draw(best.x, n, g)), -best.fun


def ceiling(s2, rng):
    """Spearman(s, |ΔF|) for errors drawn with scale² s2: a std equal to the true scale."""
    return spearmanr(s2, s2 * rng.chisquare(3, len(s2))).correlation


def npmle_ceiling(e, rng, smoothing=0.0):
    """The NPMLE's ceiling; with smoothing > 0 each support point is spread as
    a lognormal of that width (the NPMLE is discrete even when the true scales
    are not, and tied scales rank less well), with its Monte-Carlo log L."""
    grid, w, log_lik = npmle(e)
    sample = rng.choice(grid, SIMULATED, p=w / w.sum())
    if smoothing > 0:
        sample = sample * np.exp(smoothing * rng.standard_normal(SIMULATED))
        log_lik = mixture_log_likelihood(e, sample[:2000])
    return ceiling(sample, rng), log_lik


def ceilings(e, rng):
    out = {"npmle": npmle_ceiling(e, rng)}
    for width in (0.25, 0.5):
        out[f"smoothed {width}"] = npmle_ceiling(e, rng, width)
    for family in ("lognormal", "gamma"):
        sampler, log_lik = fit_family(e, family, rng)
        out[family] = (ceiling(sampler(SIMULATED, rng), rng), log_lik)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predicted")
    parser.add_argument("reference")
    parser.add_argument("--group", default="run")
    parser.add_argument("--prefix", action="store_true",
                        help="group by the key's text before its first '_' (BaO_0GPa_300K: BaO)")
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    predicted, reference = read(args.predicted, ":"), read(args.reference, ":")
    if len(predicted) != len(reference):
        raise SystemExit(f"{args.predicted} has {len(predicted)} frames, "
                         f"{args.reference} {len(reference)}")
    groups = {}
    for p, r in zip(predicted, reference):
        if "force_std" not in p.arrays:
            raise SystemExit(f"{args.predicted} has no force_std column: evaluate with a "
                             "calibrated model (docs/gp.md)")
        error = p.arrays["forces"] - r.get_forces()
        key = str(r.info.get(args.group, "all"))
        if args.prefix:
            key = key.split("_")[0]
        groups.setdefault(key, ([], []))
        groups[key][0].append(np.sum(error**2, axis=1))
        groups[key][1].append(np.ravel(p.arrays["force_std"]))
    fits = ("smoothed 0.25", "smoothed 0.5", "lognormal", "gamma")
    print("| run | atoms | observed | self-consistent | ceiling | NPMLE | " +
          " | ".join(fits) + " | NPMLE ceiling, bootstrap 10–90 % | log L below the NPMLE: " +
          ", ".join(fits) + " |")
    print("| --- " * 12 + "|")
    for key, (errors, stds) in groups.items():
        e, s = np.concatenate(errors), np.concatenate(stds)
        e = np.maximum(e, 1e-30)
        observed = spearmanr(s, e).correlation
        own = np.mean([spearmanr(s, s**2 * rng.chisquare(3, len(s))).correlation
                       for _ in range(50)])
        boot = [npmle_ceiling(rng.choice(e, len(e)), rng)[0] for _ in range(args.bootstrap)]
        low, high = np.percentile(boot, [10, 90]) if boot else (np.nan, np.nan)
        results = ceilings(e, rng)
        best = results["npmle"][1]
        top = max(value for value, log_lik in results.values() if best - log_lik <= PLAUSIBLE)
        print(f"| {key} | {len(e)} | {observed:.2f} | {own:.2f} | **{top:.2f}** | "
              f"{results['npmle'][0]:.2f} | " +
              " | ".join(f"{results[f][0]:.2f}" for f in fits) + f" | {low:.2f}–{high:.2f} | " +
              ", ".join(f"{best - results[f][1]:.1f}" for f in fits) + " |")


if __name__ == "__main__":
    main()
