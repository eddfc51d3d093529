#!/usr/bin/env bash
# Run on the local machine (not on the device) before a device call: copies the ISBI 2012 data into .isbi/
# and downloads, as wheels into .whl/, what the device's Python 3.12 lacks (keras,
# albumentations and their needs; it has JAX, scipy, scikit-image, tifffile, OpenCV). Both
# folders are git-ignored by .git/info/exclude. Then: run(carry=[".isbi", ".whl"],
# command="bash benchmarks/device/isbi_sweep.sh ...") - see isbi_sweep.sh. PYVER=3.11
# fetches wheels for a local Python 3.11 instead, for a local dry run of the sweep.
set -euo pipefail
cd "$(dirname "$0")/../.."
for ignored in /.isbi/ /.whl/ /.site/; do
  grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >> .git/info/exclude
done
data=${1:-${ZOO_DATA:?pass the ISBI 2012 folder or set ZOO_DATA}/isbi2012}
mkdir -p .isbi && cp -r "$data"/images "$data"/labels .isbi/
platforms=""
for n in 2_28 2_27 2_24 2_17 2014 1; do
  case $n in 2014) platforms+=" --platform manylinux2014_x86_64";;
             1) platforms+=" --platform manylinux1_x86_64";;
             *) platforms+=" --platform manylinux_${n}_x86_64";; esac
done
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYVER:-3.12}" \
  --implementation cp $platforms -d .whl \
  keras==3.15.1 namex optree albumentations==2.0.8 albucore==0.0.24 pydantic \
  pydantic-core annotated-types typing-inspection stringzilla simsimd tomli-w
# The PyTorch peers of benchmarks/gpu_peers.toml (the device has PyTorch and torchvision).
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYVER:-3.12}" \
  --implementation cp $platforms -d .whl \
  segmentation-models-pytorch==0.6.0 timm==1.0.31 monai==1.6.1 huggingface-hub safetensors \
  pyyaml tqdm filelock fsspec hf-xet
du -sh .isbi .whl
