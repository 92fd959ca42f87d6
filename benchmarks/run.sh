#!/usr/bin/env bash
# The recorded benchmark: default settings (a few minutes on 2 cores), then the full sweep
# of engines x models x sizes. Results go to benchmarks/results/, plots to
# benchmarks/plots/, and benchmarks/README.md's results block is regenerated from the JSON.
# Run it on a quiet machine: check `uptime` first; the load is recorded in the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
export RTSTYLE_ASSETS="${RTSTYLE_ASSETS:-$(cd .. && pwd)/shared/assets}"
bench=".venv/bin/rtstyle bench"
mode="${1:-default}"
case "$mode" in
  default)
    $bench --json benchmarks/results/default.json --plots benchmarks/plots/default
    ;;
  sweep)  # every case, more runs: tens of minutes on 2 cores
    $bench --sweep --runs 30 --max-seconds 60 --no-pipelines \
      --json benchmarks/results/sweep.json --plots benchmarks/plots/sweep
    ;;
  *) echo "usage: benchmarks/run.sh [default|sweep]" >&2; exit 2 ;;
esac
.venv/bin/python benchmarks/update_readme.py benchmarks/results/*.json
