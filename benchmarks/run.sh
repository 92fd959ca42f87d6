#!/usr/bin/env bash
# The recorded benchmark: default settings (a few minutes on 2 cores), or the full sweep
# of engines x models x sizes. Results go to benchmarks/results/, plots to
# benchmarks/plots/, and benchmarks/README.md's results block is regenerated from the JSON.
# Run it on a quiet machine: check `uptime` first; the load is recorded in the JSON.
#
# The full net is the published ml5 udnie (imported into a private catalogue, so the user's
# own styles never change the figures); the lite net is a trained lite style when the
# catalogue has one (built-in), else random weights (speed does not depend on weights).
set -euo pipefail
cd "$(dirname "$0")/.."
export RTSTYLE_ASSETS="${RTSTYLE_ASSETS:-$(cd .. && pwd)/shared/assets}"
export RTSTYLE_HOME="${RTSTYLE_BENCH_HOME:-/tmp/rtstyle-bench-home}"
rtstyle=".venv/bin/rtstyle"
if [ ! -f "$RTSTYLE_HOME/styles/udnie.safetensors" ]; then
  $rtstyle styles import "$RTSTYLE_ASSETS/styles-ml5/udnie" >/dev/null
fi
uptime
case "${1:-default}" in
  default)
    $rtstyle bench --json benchmarks/results/default.json --plots benchmarks/plots/default
    ;;
  sweep)  # every case at every size, engines only: tens of minutes on 2 cores
    $rtstyle bench --sweep --runs 10 --max-seconds 20 --no-pipelines \
      --json benchmarks/results/sweep.json --plots benchmarks/plots/sweep
    ;;
  *) echo "usage: benchmarks/run.sh [default|sweep]" >&2; exit 2 ;;
esac
.venv/bin/python benchmarks/update_readme.py benchmarks/results/*.json
