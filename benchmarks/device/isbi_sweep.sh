#!/usr/bin/env bash
# Run ON THE DEVICE (after benchmarks/device/prepare.sh locally), e.g.
#   run(carry=[".isbi", ".whl"], timeout_s=560,
#       command="MAPS_SECONDS=80 bash benchmarks/device/isbi_sweep.sh 400 \
#                'best_s0:--preset isbi2012/best --seed 0' ...")
# First argument: seconds every run may take (the runs are stopped then, so the call's
# results come back inside its limit; a run stopped there returns its state.json but no
# scores, so leave room past --train-minutes for start-up and the final validation: about
# 50 s for 6 runs of the best preset with flips TTA at JAX's default precision, more under
# JAX_DEFAULT_MATMUL_PRECISION=highest, which also trains slower); each further argument is
# NAME:FLAGS for `zoo train --data .isbi FLAGS`. All runs share the one GPU at once (JAX,
# memory preallocation off), so their train seconds are no speed figures: step-match them to
# the CPU instead (--steps). Each run's metrics.json (its record), state.json and log come
# back in $OUT/sweep.tar.gz (the device returns at most 8 files); models stay there.
# MAPS_SECONDS > 0: then each finished model's validation maps (plain, flips and d4 TTA) are
# saved by `benchmarks.postprocess --save-maps` (uint8 .npz, all models at once within that time)
# and come back in $OUT/maps_*.tar (at most 6 runs' maps each), to be scored and
# post-processed locally with `python -m benchmarks.postprocess --maps`.
# Without a .whl folder (a local dry run) the installed packages are used.
set -uo pipefail
seconds=$1; shift
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target .site .whl/*.whl || exit 1
fi
export PYTHONPATH=$PWD/.site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false \
  NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT/device.txt"
mkdir -p runs
for spec in "$@"; do
  name=${spec%%:*}; flags=${spec#*:}
  # shellcheck disable=SC2086
  timeout "$seconds" python3 -m zoo train --data .isbi --verbose 0 --out "runs/$name" \
    $flags > "runs/$name.log" 2>&1 &
done
wait
for spec in "$@"; do
  name=${spec%%:*}
  echo "== $name"; tail -3 "runs/$name.log"
done
tar -czf "$OUT/sweep.tar.gz" runs/*.log runs/*/metrics.json runs/*/state.json 2>/dev/null
if [ "${MAPS_SECONDS:-0}" -gt 0 ]; then
  mkdir -p runs/maps
  for spec in "$@"; do
    name=${spec%%:*}
    [ -f "runs/$name/model.keras" ] || continue
    timeout "$MAPS_SECONDS" python3 -m benchmarks.postprocess "runs/$name/model.keras" \
      --data .isbi --tta flips d4 --defaults-only --save-maps runs/maps \
      --out "runs/maps/$name.json" > "runs/maps/$name.log" 2>&1 &
  done
  wait
  (cd runs/maps && ls ./*.npz 2>/dev/null | split -l 6 - group_ &&
   for group in group_*; do
     tar -cf "$OUT/maps_${group#group_}.tar" -T "$group" ./*.json ./*.log
   done)
fi
