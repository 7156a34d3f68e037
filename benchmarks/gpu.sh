#!/usr/bin/env bash
# The tests and the benchmarks on a GPU machine, in under seven minutes.
#
#   benchmarks/gpu.sh          # on a machine with jax[cuda], optax, numpy and pytest installed
#   benchmarks/gpu.sh --dry    # the same stages on the CPU, with tiny sizes: checks the script
#
# It installs nothing and needs no network; it runs from the source tree (PYTHONPATH=.).
# Full results go to the folder named by $OUT when it is set (a fresh temporary folder
# otherwise); a short table is printed last. A stage that fails is reported, and the
# stages after it still run; each stage has its own time limit, and they add up to
# under seven minutes. The exit status is the number of stages that failed.

set -u

cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}

DRY=0
case "${1:-}" in
  --dry) DRY=1 ;;
  "") ;;
  *) echo "usage: benchmarks/gpu.sh [--dry]" >&2; exit 2 ;;
esac

if [ "$DRY" = 1 ]; then
  export JAX_PLATFORMS=cpu
  TESTS=(--collect-only tests/test_worked_example.py)  # the stage's plumbing; the suite runs the tests
  # The dry mode checks the script's stages, not the rows: tests/test_benchmarks.py checks every row of
  # single.py and population.py in their quick modes.
  SINGLE=(--quick --steps 50 --rounds 1 --no-torch --jbp-only)
  POPULATION=(--quick --methods train_many)
  LIMITS=(60 120 60 60 60 60)  # seconds: environment, tests, single, population, and both unrolled
else
  # The tests that exercise the compiled paths; the whole suite's many small compiles could
  # take the five minutes by themselves on a GPU.
  TESTS=(tests/test_worked_example.py tests/test_train.py tests/test_gradients.py tests/test_optimizers.py tests/test_input_errors.py)
  SINGLE=(--rounds 3)
  # NumPy's baseline takes minutes at n = 100,000 and says nothing about the GPU; the C loop
  # runs on the host's cores.
  POPULATION=(--methods "train_many,jit(vmap(train))" --sizes 10000,100000,1000000)
  LIMITS=(30 110 80 70 40 50)
fi

RESULTS=${OUT:-$(mktemp -d)}
mkdir -p "$RESULTS" || exit 1
SUMMARY="$RESULTS/gpu_summary.txt"
: > "$SUMMARY"
FAILED=0

# stage NAME LIMIT COMMAND...: runs COMMAND under `timeout`, output to $RESULTS/NAME.log.
stage() {
  local name=$1 limit=$2 start rc status
  shift 2
  start=$(date +%s)
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=5 "$limit" "$@" > "$RESULTS/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status="timed out" ;;
    *) status="failed (exit $rc)" ;;
  esac
  [ "$rc" = 0 ] || FAILED=$((FAILED + 1))
  tail -n 3 "$RESULTS/$name.log" | sed 's/^/   /'
  printf '%-12s %-18s %4ss\n' "$name" "$status" "$(( $(date +%s) - start ))" >> "$SUMMARY"
}

stage environment "${LIMITS[0]}" "$PY" -c '
import jax, jaxlib, numpy, optax
print("jax", jax.__version__, "jaxlib", jaxlib.__version__, "optax", optax.__version__,
      "numpy", numpy.__version__)
print("backend", jax.default_backend(), "devices", jax.devices())
'
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RESULTS/nvidia-smi.csv" 2>&1
fi

stage tests "${LIMITS[1]}" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"

stage single "${LIMITS[2]}" "$PY" benchmarks/single.py --out "$RESULTS/single" --force "${SINGLE[@]}"

stage population "${LIMITS[3]}" "$PY" benchmarks/population.py --json "$RESULTS/population.json" --force \
  "${POPULATION[@]}"

# On a GPU every step launches kernels; unrolling 8 steps an iteration lets XLA fuse across them.
# Measured beside unroll 1, so that the next change of the default rests on figures.
stage single_unroll8 "${LIMITS[4]}" "$PY" benchmarks/single.py --out "$RESULTS/single_unroll8" --force \
  --unroll 8 --jbp-only "${SINGLE[@]}"
stage population_unroll8 "${LIMITS[5]}" "$PY" benchmarks/population.py --json \
  "$RESULTS/population_unroll8.json" --force --unroll 8 "${POPULATION[@]}"

echo
echo "Results in $RESULTS"
if [ -f "$RESULTS/single/single.md" ]; then
  echo
  echo " implementation | dtype | order | median ms | min ms | max ms | x jbp"
  grep -E '^\| (jbp.train|C -O3|NumPy|PyTorch eager|jit step loop) ' "$RESULTS/single/single.md" \
    | grep -E 'float32 \| simultaneous|float64 \| sequential' | cut -d'|' -f2-8
fi
echo
echo "stage        status             time"
cat "$SUMMARY"
exit "$FAILED"
