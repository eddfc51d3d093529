#!/usr/bin/env bash
# Run ON THE DEVICE (after benchmarks/device/prepare.sh here), e.g.
#   run(carry=[".isbi", ".whl"], timeout_s=560,
#       command="bash benchmarks/device/isbi_sweep.sh 480 'best_s0:--recipe best --seed 0' ...")
# First argument: seconds every run may take (the runs are stopped then, so the call's
# results come back inside its limit); each further argument is NAME:FLAGS for
# `python -m recipes.isbi2012 --data .isbi FLAGS`. All runs share the one GPU at once (JAX,
# memory preallocation off), so their train seconds are no speed figures: step-match them to
# the CPU instead (--steps). Each run's metrics.json (its record), state.json and log come
# back in $OUT/sweep.tar.gz (the device returns at most 8 files); models stay there.
set -uo pipefail
seconds=$1; shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false \
  NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"
mkdir -p runs
for spec in "$@"; do
  name=${spec%%:*}; flags=${spec#*:}
  # shellcheck disable=SC2086
  timeout "$seconds" python3 -m recipes.isbi2012 --data .isbi --verbose 0 --out "runs/$name" \
    $flags > "runs/$name.log" 2>&1 &
done
wait
for spec in "$@"; do
  name=${spec%%:*}
  echo "== $name"; tail -3 "runs/$name.log"
done
tar -czf "$OUT/sweep.tar.gz" runs/*.log runs/*/metrics.json runs/*/state.json 2>/dev/null
