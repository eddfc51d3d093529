#!/usr/bin/env bash
# The GPU matrix (benchmarks/gpu_peers.toml) in one device call. Run ON THE DEVICE after
# benchmarks/device/prepare.sh locally (wheels for keras, albumentations and the PyTorch
# peers into .whl/), e.g.
#   run(carry=[".whl"], timeout_s=560, command="bash benchmarks/device/gpu_matrix.sh 520")
# The first argument is the seconds the cells may take (default 520, so the call's results
# come back inside a 9-minute limit); cells run most important first, and a cell not reached
# is listed in the table as not run. Records, table and charts come back in
# $OUT/gpu_peers/; carried back as benchmarks/results/gpu_peers, a second call resumes them.
# DRY_RUN=1 (the tests, on the CPU): the matrix is expanded, then a few of its kinds run at
# 64^2, batch 1, with the installed packages.
set -uo pipefail
seconds=${1:-520}
cd "$(dirname "$0")/../.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target .site .whl/*.whl || exit 1
fi
export PYTHONPATH=$PWD/.site:$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false \
  NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
out=${OUT:-runs}/gpu_peers
if [ -d benchmarks/results/gpu_peers/cells ] && [ ! -d "$out" ]; then
  mkdir -p "$out" && cp -r benchmarks/results/gpu_peers/cells "$out"/
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$out.device.txt"
python3 -m zoo bench --config benchmarks/gpu_peers.toml --list > "$out.cells.txt" || exit 1
echo "$(wc -l < "$out.cells.txt") cells in the matrix"
if [ -n "${DRY_RUN:-}" ]; then
  exec python3 -m zoo bench --models unet --encoders plain --peers smp:unet \
    --backends jax --precisions mixed_float16 --size 64 --batch 1 --steps 1 --out "$out"
fi
timeout "$seconds" python3 -m zoo bench --config benchmarks/gpu_peers.toml --out "$out"
python3 -m zoo bench --config benchmarks/gpu_peers.toml --out "$out" --report-only | tail -40
