#!/usr/bin/env bash
# One-command GPU check: what is installed, the gpu tests (a skip counts as a failure),
# and `rtstyle bench` on every GPU engine installed, at 640x480, 1280x720 and 1920x1080,
# for the full, lite and swap models. Results: benchmarks/results/gpu-<date>-<gpu>.json.
# Fits in 10 minutes. Run from anywhere:   bash benchmarks/gpu-check.sh
#
#   PYTHON=path/to/python   the interpreter to use (default: .venv/bin/python, else python3)
#   WHEELS=folder           install rtstyle's missing pure-Python dependencies from these
#                           wheels first (a machine with torch-CUDA but no network)
#
# Works with only torch-CUDA and CPU onnxruntime: TensorRT and onnxruntime-gpu parts are
# left out with one line each. Without a GPU it says so in one line and exits 0.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi

if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu-check: no CUDA GPU visible here (torch.cuda.is_available() is False or torch is missing); nothing to check"
    exit 0
fi

START=$(date +%s)
FAILED=0
step() { echo; echo "== $* ($(( $(date +%s) - START )) s)"; }

if [ -n "${WHEELS:-}" ]; then
    step "installing rtstyle's dependencies from $WHEELS"
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" "$WHEELS"/*.whl || FAILED=1
fi
if ! "$PY" -c 'import rtstyle.export' 2>/dev/null; then
    step "installing rtstyle from this checkout (no dependencies, no network)"
    "$PY" -m pip install -q --no-deps --no-index --no-build-isolation -e "$ROOT" || {
        echo "gpu-check: cannot install rtstyle here; see the pip error above"; exit 1; }
fi

step "packages, GPU and providers"
"$PY" - <<'EOF'
import importlib.metadata as md
import torch
for dist in ["torch", "onnxruntime", "onnxruntime-gpu", "tensorrt", "tensorrt-cu12",
             "tensorrt-cu13", "openvino", "onnx", "numpy", "opencv-python",
             "opencv-python-headless"]:
    try:
        print(f"  {dist:24s} {md.version(dist)}")
    except md.PackageNotFoundError:
        print(f"  {dist:24s} -")
print(f"  GPU: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, "
      f"capability {'.'.join(map(str, torch.cuda.get_device_capability(0)))}")
import onnxruntime as ort
print("  onnxruntime providers:", ", ".join(ort.get_available_providers()))
from rtstyle.engines import registry
from rtstyle.engines.onnxruntime_engine import install_problem, installed
if len(installed()) > 1:
    print("  PROBLEM:", install_problem("cuda", installed(), None))
print("  GPU engines usable:", ", ".join(b.name for b in registry.available() if b.cuda))
EOF
[ $? -eq 0 ] || FAILED=1

HAVE=$("$PY" - <<'EOF'
import importlib.util
from rtstyle.engines.onnxruntime_engine import installed
# By what is installed, not by the providers listed: a provider that vanished (two ONNX
# Runtime packages) must fail its tests, not leave them out.
trt = importlib.util.find_spec("tensorrt") is not None
ort_gpu = "onnxruntime-gpu" in installed()
print(" ".join(k for k, ok in [("tensorrt", trt), ("ort_trt", trt and ort_gpu),
                              ("ort_cuda", ort_gpu)] if ok))
EOF
)
DESELECT=()
case " $HAVE " in *" tensorrt "*) ;; *) echo "TensorRT: not installed; its tests and bench left out"; DESELECT+=("not tensorrt");; esac
case " $HAVE " in *" ort_trt "*) ;; *) echo "onnxruntime-trt: needs onnxruntime-gpu and tensorrt; its tests left out"; DESELECT+=("not ort_trt");; esac
case " $HAVE " in *" ort_cuda "*) ;; *) echo "onnxruntime-gpu: not installed (CPU onnxruntime); its tests and bench left out"; DESELECT+=("not ort_cuda");; esac
MEXPR="gpu"
for D in "${DESELECT[@]}"; do MEXPR="$MEXPR and $D"; done

step "gpu tests (a skip counts as a failure)"
LOG=$(mktemp)
timeout 270 "$PY" -m pytest -q -rs -m "$MEXPR" tests 2>&1 | tee "$LOG" | tail -25
RC=${PIPESTATUS[0]}
SKIPS=$(grep -Eo '[0-9]+ skipped' "$LOG" | tail -1 | grep -Eo '[0-9]+' || true)
if [ "$RC" -ne 0 ] || [ "${SKIPS:-0}" -gt 0 ]; then
    echo "gpu tests: FAILED (exit $RC, ${SKIPS:-0} skipped; skips count as failures here)"
    FAILED=1
else
    echo "gpu tests: passed, none skipped"
fi
rm -f "$LOG"

step "rtstyle bench on every GPU engine"
ENGINES=$("$PY" - <<'EOF'
from rtstyle.engines import registry
names = [b.name for b in registry.available() if b.cuda and b.auto]
if "torch-cuda" in names:
    names.append("torch-cuda-fp32")
print(" ".join(names))
EOF
)
GPU=$("$PY" -c 'import re, torch; print(re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name(0)).strip("-").lower())')
STAMP=$(date -u +%Y-%m-%d)
mkdir -p benchmarks/results
N=$(echo "$ENGINES" | wc -w)
LEFT=$(( 570 - ($(date +%s) - START) ))
PER=$(( N > 0 ? LEFT / N : 0 ))
for E in $ENGINES; do
    if [ "$PER" -lt 30 ]; then echo "bench $E: no time left in the 10 minutes"; FAILED=1; continue; fi
    OUT="benchmarks/results/gpu-$STAMP-$GPU-$E.json"
    echo "-- $E (at most $PER s) -> $OUT"
    timeout "$PER" "$PY" -m rtstyle bench --engines "$E" --models full,lite,swap \
        --sizes 640x480,1280x720,1920x1080 --no-pipelines --runs 30 --max-seconds 2 \
        --json "$OUT" 2>&1 | grep -vE '^\s*$' | tail -14
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench $E: FAILED or out of time"; FAILED=1; }
done

echo
echo "gpu-check: $([ $FAILED -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - START )) s"
exit $FAILED
