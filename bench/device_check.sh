#!/usr/bin/env bash
# The one device check (issue 16): on a machine with CuPy and an NVIDIA GPU, in one call within 8 minutes,
#   1. the environment (CuPy, CUDA, the device, PyTorch), and whether minidl sees a working GPU;
#   2. the gpu-marked tests (CuPy vs NumPy parity in float64 for every layer, optimizer and a training run;
#      CUDA-graph replay vs eager), with a JUnit file;
#   3. the GPU bench (bench/test_bench_gpu.py: the documented network, batch 128 and 1024, minidl eager / graphs,
#      PyTorch eager / graphs), its numbers as JSON;
# and writes summary.md beside them.  Usage: bench/device_check.sh [FOLDER]  (default: $OUT, else ./device-check).
# Run from the repository root.  Exit status: 0 when the tests passed and the bench ran, else the first failure's.
set -u
cd "$(dirname "$0")/.." || exit 2
out="${1:-${OUT:-device-check}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
py="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)

"$py" - >"$out/environment.txt" 2>&1 <<'PY'
import platform, sys
print("python", sys.version.split()[0], platform.platform())
try:
    import cupy as cp
    print("cupy", cp.__version__, "CUDA runtime", cp.cuda.runtime.runtimeGetVersion(),
          "driver", cp.cuda.runtime.driverGetVersion())
    props = cp.cuda.runtime.getDeviceProperties(0)
    print("device", props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
          "memory GiB", round(props["totalGlobalMem"] / 2**30, 1))
except Exception as e:
    print("cupy: not usable:", type(e).__name__, e)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
except Exception as e:
    print("torch: not usable:", type(e).__name__, e)
from minidl.backend import gpu_available
print("minidl gpu_available", gpu_available())
PY

timeout 330 "$py" -m pytest -q -m gpu -p no:cacheprovider tests --junitxml="$out/gpu-tests.xml" \
    >"$out/gpu-tests.txt" 2>&1
rc_tests=$?
t_tests=$(( $(date +%s) - start ))

MINIDL_BENCH_GPU_OUT="$out" timeout 120 "$py" -m pytest -q -s -p no:cacheprovider bench/test_bench_gpu.py \
    >"$out/bench-gpu.txt" 2>&1
rc_bench=$?
t_all=$(( $(date +%s) - start ))

{
    echo "# minidl device check ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    echo
    echo '## Environment'
    echo '```'
    cat "$out/environment.txt"
    echo '```'
    echo
    echo "## gpu-marked tests (exit $rc_tests, ${t_tests} s)"
    echo '```'
    grep -E "^(FAILED|ERROR)" "$out/gpu-tests.txt" | head -40
    tail -1 "$out/gpu-tests.txt"
    echo '```'
    echo
    echo "## GPU bench (exit $rc_bench; ${t_all} s in all)"
    echo '```'
    grep -E "^\[gpu bench\]|^(FAILED|ERROR)|^E " "$out/bench-gpu.txt" | head -30
    tail -1 "$out/bench-gpu.txt"
    echo '```'
    if [ -f "$out/bench-gpu.json" ]; then
        echo '```json'
        cat "$out/bench-gpu.json"
        echo '```'
    fi
} >"$out/summary.md"
cat "$out/summary.md"
if [ "$rc_tests" -ne 0 ]; then exit "$rc_tests"; fi
exit "$rc_bench"
