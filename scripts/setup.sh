#!/usr/bin/env bash
# Installs the Debian packages Plexus needs that are missing (apt-get), so a
# fresh machine builds, tests and trains with no other step.
# Usage: scripts/setup.sh [--bench]   (--bench adds the reference systems)
set -euo pipefail

packages=(build-essential cmake pkg-config zlib1g-dev libopenblas-dev libopenblas0-openmp libblis-dev
          libhdf5-dev hdf5-tools libjansson-dev libzip-dev libpng-dev libjpeg62-turbo-dev libdnnl-dev dataset-fashion-mnist
          python3-numpy python3-h5py python3-protobuf python3-pil protobuf-compiler clang libclang-rt-dev valgrind
          openmpi-bin libopenmpi-dev iproute2
          gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm python3-onnx)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-sklearn time)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# ONNX Runtime for the ONNX export's test, from npm (prebuilt binaries in the
# package; --ignore-scripts skips its optional CUDA download): ~300 MB in
# build/onnxruntime, once. Skipped without npm (the test then skips).
if command -v npm >/dev/null && [[ ! -e build/onnxruntime/node_modules/onnxruntime-node/package.json ]]; then
  echo "setup: installing onnxruntime-node into build/onnxruntime"
  timeout 600 npm install --prefix build/onnxruntime --no-save --ignore-scripts onnxruntime-node >/dev/null 2>&1 ||
    echo "setup: npm could not install onnxruntime-node; the ONNX Runtime checks will skip"
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
