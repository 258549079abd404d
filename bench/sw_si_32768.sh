#!/usr/bin/env bash
# Sourced by the MD step benchmarks (md_step_ab.sh, md_openmp_speedup.sh,
# md_instructions_ab.sh):
# write_md_bench_config DIR STEPS writes DIR/md.yaml: the config in
# MD_BENCH_CONFIG when that is set (its `steps` key replaced by STEPS; paths in
# it absolute, output in `out`), e.g. a GP model's; else `otfgp md` of
# Stillinger–Weber Si, NVE, 32768 atoms (16×16×16 diamond cells), 1000 K
# start, thermo every 100 steps, no trajectory or restart files.
# side_settings A|B: the VAR=value words of AB_ENV_A or AB_ENV_B, the settings
# an A/B benchmark gives that side's runs only (AB_ENV_B=OTFGP_MANYBODY_FORM=short
# times a form against the default with one CLI as both A and B).
side_settings() {
  local name=AB_ENV_$1
  echo "${!name:-}"
}
write_md_bench_config() {
  if [ -n "${MD_BENCH_CONFIG:-}" ]; then
    [ -f "$MD_BENCH_CONFIG" ] || { echo "MD_BENCH_CONFIG: no file $MD_BENCH_CONFIG" >&2; exit 2; }
    sed "s/^steps:.*/steps: $2/" "$MD_BENCH_CONFIG" > "$1/md.yaml"
    return
  fi
  cat > "$1/md.yaml" << YAML
structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: [16, 16, 16]}
potential: sw:Si.sw
ensemble: nve
temperature: 1000
timestep: 1.0
steps: $2
seed: 7
output: {directory: out, thermo_interval: 100, trajectory_interval: 0, restart_interval: 0}
YAML
}
