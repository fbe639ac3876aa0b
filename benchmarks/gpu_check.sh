#!/usr/bin/env bash
# Every GPU check in one go, on a machine with a CUDA device (docs/gpu.md):
#   1. the gpu-marked tests: GPU = CPU on 1e6 paths for every model and product (Heston's
#      adjoint included, and at 10,000 steps a year with the scratch-capped grid), device output
#      to torch by DLPack, training on device data without a host copy and equal to the CPU
#      fit, datasets made on the GPU holding /cuda numbers apart from the CPU's;
#   2. benchmarks/gpu.py: throughput against the floors, results in $OUT/gpu.json;
#   3. benchmarks/gpu_dask.py: one Dask worker per GPU, results in $OUT/gpu_dask.json;
#   4. the slow PTX check: every kernel compiles for sm_90 without local memory or spills;
#   5. diffml run configs/gpu.yaml on GPU workers (when Prefect is installed);
#   6. diffml pinn of the nightly's collar under XVA on the GPU (30 s of training), its errors
#      against the FD in $OUT/pinn_cli_cuda.json.
# The gpu-marked tests include the PINN's: every problem type on cuda as on the CPU, a solution
# saved on the device loaded on the CPU, a device checkpoint resumed on the CPU.
# Each step has a time limit; a failed step does not stop the others; the exit status is 0 only
# when every step passed. The log is $OUT/check.log (OUT defaults to gpu-check/), the tests'
# outcomes and recorded figures $OUT/gpu_tests.json (benchmarks/gpu_tests_summary.py; a skipped
# PTX check shows there as skipped, not passed).
# Usage: benchmarks/gpu_check.sh [--quick]   (PY: the Python, default python3; XDIST: test
# processes, default 4, each with a CUDA context and up to 2 GiB of Heston scratch; RUN_OUT: where step 5 writes its run, default $OUT/run)
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-gpu-check}
XDIST=${XDIST:-4}
RUN_OUT=${RUN_OUT:-$OUT/run}
QUICK=${1:-}
mkdir -p "$OUT"
LOG="$OUT/check.log"
export PYTHONUNBUFFERED=1
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-/tmp/diffml-numba-cache}
status=0

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "=== $name" | tee -a "$LOG"
    timeout "$limit" "$@" >>"$LOG" 2>&1
    local rc=$?
    echo "=== $name: rc=$rc in $((SECONDS - t0)) s" | tee -a "$LOG"
    [ "$rc" -eq 0 ] || status=1
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    "$PY" -c "import sys, numpy, numba, torch; print(sys.version.split()[0], 'numpy', numpy.__version__, 'numba', numba.__version__, 'torch', torch.__version__, torch.version.cuda)"
    "$PY" -m pip list 2>/dev/null | grep -iE "^(numba|numba-cuda|cupy|cuda-|llvmlite|pytest|pydantic|dask|distributed|prefect) "
} >>"$LOG" 2>&1

parallel=()
"$PY" -c "import xdist" 2>/dev/null && parallel=(-n "$XDIST")
step gpu-tests 300 "$PY" -m pytest -q -m gpu -p no:cacheprovider "${parallel[@]}" \
    -o junit_family=xunit1 --junitxml="$OUT/gpu-tests.xml" \
    tests/simulators/test_gpu.py tests/training/test_regressor_gpu.py \
    tests/data/test_numbers_version.py tests/pinn/test_pinn_gpu.py
step gpu-benchmark 150 "$PY" benchmarks/gpu.py $QUICK --out "$OUT/gpu.json"
step gpu-dask 90 "$PY" benchmarks/gpu_dask.py --out "$OUT/gpu_dask.json"
step ptx 90 "$PY" -m pytest -q -m slow -p no:cacheprovider -k ptx -rs \
    -o junit_family=xunit1 --junitxml="$OUT/ptx.xml" tests/simulators/test_gpu.py
if "$PY" -c "import prefect, prefect_dask" 2>/dev/null; then
    step pipeline 150 "$PY" -P -m pipeline.cli run configs/gpu.yaml --output "$RUN_OUT"
    for f in metrics.json report.html; do cp "$RUN_OUT"/*/"$f" "$OUT/" 2>/dev/null; done
    step pinn-cli 90 sh -c "\"\$0\" -m pipeline.cli pinn configs/nightly.yaml \
        --scenario bs_collar_xva --set scenarios.bs_collar_xva.pinn.options.device=cuda \
        --set scenarios.bs_collar_xva.pinn.options.time_limit=30 --output \"\$1\" --force \
        >\"\$2\"" "$PY" "$RUN_OUT-pinn" "$OUT/pinn_cli_cuda.json"
fi
pipeline_metrics=()
[ -f "$OUT/metrics.json" ] && pipeline_metrics=(--pipeline-metrics "$OUT/metrics.json" \
    --pipeline-out "$OUT/gpu_pipeline.json")
"$PY" benchmarks/gpu_tests_summary.py "$OUT/gpu-tests.xml" "$OUT/ptx.xml" \
    --machine "$OUT/gpu.json" --out "$OUT/gpu_tests.json" "${pipeline_metrics[@]}" \
    >>"$LOG" 2>&1
echo "gpu_check: exit $status" | tee -a "$LOG"
exit $status
