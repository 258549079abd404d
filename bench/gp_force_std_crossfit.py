#!/usr/bin/python3
"""The calibrated force std fitted on some held-out runs and tested on the
others, with and without the neighbours' term, and per species the force
RMSE of each run (docs/BENCHMARKS.md "Force std per species and the
neighbours' term"; docs/gp.md "Force uncertainty in eV/Å").

  /usr/bin/python3 bench/gp_force_std_crossfit.py PREDICTED.xyz REFERENCE.xyz CUTOFF FIT_RUNS

PREDICTED is `otfgp eval`'s output (columns uncertainty, forces) on
REFERENCE's frames, grouped by their `run` info key as `bench/gp_learning.py
--work W` writes them (W/held_out_predicted_*.xyz, W/held_out.xyz); CUTOFF is
the descriptor's (Å, one for every pair); FIT_RUNS a comma-separated list of
runs to fit on. The fit is the library's form, per species:
σ² = (a u)² + (g v)² + b² + (c|F|)², v² = Σ_j ½(cos(π r/r_c) + 1) u_j².
"""
import sys

import numpy as np
from ase.io import read
from ase.neighborlist import neighbor_list
from scipy.optimize import minimize
from scipy.stats import spearmanr


def rows_of(predicted, reference, cutoff):
    rows = []
    for p, r in zip(predicted, reference):
        error = p.arrays["forces"] - r.get_forces()
        u = p.arrays["uncertainty"].ravel()
        force = np.linalg.norm(p.arrays["forces"], axis=1)
        i, j, d = neighbor_list("ijd", r, cutoff)
        v2 = np.zeros(len(r))
        np.add.at(v2, i, 0.5 * (np.cos(np.pi * d / cutoff) + 1) * u[j] ** 2)
        for k, symbol in enumerate(r.get_chemical_symbols()):
            rows.append((r.info["run"], symbol, u[k], np.sqrt(v2[k]), force[k], error[k]))
    return rows


def fit(rows, neighbours):
    u, v, force = (np.array([x[n] for x in rows]) for n in (2, 3, 4))
    e2 = np.array([x[5] for x in rows]) ** 2

    def variance(t):
        a, b, c, g = np.exp(t)
        return (a * u) ** 2 + b**2 + (c * force) ** 2 + ((g * v) ** 2 if neighbours else 0)

    def nll(t):
        var = variance(t)
        return np.sum(0.5 * np.log(var)[:, None] + e2 / (2 * var[:, None]))

    return np.exp(minimize(nll, [0, -3, -3, 0], method="Nelder-Mead",
                           options={"maxiter": 8000, "xatol": 1e-4, "fatol": 1e-4}).x)


def main():
    predicted, reference = read(sys.argv[1], ":"), read(sys.argv[2], ":")
    rows = rows_of(predicted, reference, float(sys.argv[3]))
    fit_runs = sys.argv[4].split(",")
    species = sorted({x[1] for x in rows})
    train = [x for x in rows if x[0] in fit_runs]
    terms = {nb: {s: fit([x for x in train if x[1] == s], nb) for s in species} for nb in (False, True)}

    def std(x, nb):
        a, b, c, g = terms[nb][x[1]]
        return np.sqrt((a * x[2]) ** 2 + b**2 + (c * x[4]) ** 2 + ((g * x[3]) ** 2 if nb else 0))

    groups = {}
    for x in rows:
        for key in (x[0], x[0].split("_")[0], "all"):
            groups.setdefault(key, []).append(x)
    print("| held-out set | fitted on | per species: Spearman, 2σ coverage | + neighbours | "
          "force RMSE per species (eV/Å) |")
    print("| --- | --- | --- | --- | --- |")
    for key, members in groups.items():
        error = np.array([x[5] for x in members])
        norm = np.linalg.norm(error, axis=1)
        cells = []
        for nb in (False, True):
            s = np.array([std(x, nb) for x in members])
            cells.append(f"{spearmanr(s, norm).correlation:.2f}, "
                         f"{np.mean(np.abs(error) <= 2 * s[:, None]):.3f}")
        rmse = ", ".join(
            f"{el} {np.sqrt(np.mean(error[[x[1] == el for x in members]] ** 2)):.3f}"
            for el in species if any(x[1] == el for x in members))
        print(f"| {key} | {'yes' if key in fit_runs else ''} | {cells[0]} | {cells[1]} | {rmse} |")


if __name__ == "__main__":
    main()
