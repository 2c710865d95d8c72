#!/usr/bin/env bash
# The GPU check: one command, under 8 minutes on one GPU, whenever a GPU machine is lent.
#
#   benchmarks/gpu_check.sh            # on the GPU machine, from the repository root
#   benchmarks/gpu_check.sh --dry-run  # CPU only, tiny sizes (numbers mean nothing): checks
#                                      # that every step runs; CI runs it (tests/test_gpu_check.py)
#
# 1. the tests marked `cuda` (skipped without a GPU: the dry run checks they are collected);
# 2. the batched ensemble against the per-member loop on the device: MLP (bench_ensemble)
#    and CNN (bench_cnn);
# 3. the measures at N = 100,000 on the device (bench_gpu_measures).
# Everything goes to one markdown report, ${OUT:-gpu_check.md}; on a real run it is also
# appended to BENCHMARKS.md under a dated heading. Uses .venv/bin/python if present.
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
REPORT=${OUT:-gpu_check.md}
: > "$REPORT"
if [ "$DRY" = 1 ]; then
  DEVICE=cpu; N=2000; QUICK=--tiny
else
  DEVICE=cuda; N=100000; QUICK=
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: run with --dry-run on a CPU machine')"
fi
step() { echo "== $*" >&2; }

step "1/3 tests marked cuda"
{
  echo "## GPU check ($(date -u +%Y-%m-%d), $([ "$DRY" = 1 ] && echo 'DRY RUN, CPU' || "$PY" -c 'import torch; print(torch.cuda.get_device_name(0))'))"
  echo
  echo '```'
} >> "$REPORT"
set +e
"$PY" -m pytest -q -m cuda -p no:cacheprovider tests > "$REPORT.pytest" 2>&1
TESTS_RC=$?
set -e
tail -n 5 "$REPORT.pytest" >> "$REPORT"; rm -f "$REPORT.pytest"
printf '```\n\n' >> "$REPORT"
# 0: passed; 5: none selected is a failure too (the cuda tests must exist).
if [ "$TESTS_RC" != 0 ]; then echo "the cuda tests failed (pytest exit $TESTS_RC): see $REPORT" >&2; fi

step "2/3 batched ensemble vs per-member loop on $DEVICE"
"$PY" -m benchmarks.bench_ensemble $QUICK --device "$DEVICE" --out "$REPORT"
if [ "$DRY" = 1 ]; then CNN_ARGS="--quick --repeats 1"; else CNN_ARGS=""; fi
"$PY" -m benchmarks.bench_cnn $CNN_ARGS --device "$DEVICE" --out "$REPORT"

step "3/3 measures at N = $N on $DEVICE"
"$PY" -m benchmarks.bench_gpu_measures --device "$DEVICE" --n "$N" --out "$REPORT"

if [ "$DRY" = 0 ]; then
  { echo; cat "$REPORT"; } >> BENCHMARKS.md
  step "appended $REPORT to BENCHMARKS.md"
fi
step "done: $REPORT"
exit "$TESTS_RC"
