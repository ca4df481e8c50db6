#!/usr/bin/env bash
# The main job: installs what is missing, builds Plexus in release mode and
# trains the course's Fashion-MNIST classifier (arguments go to the program:
# scripts/run.sh [epochs] [data-dir]).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target fashion_mnist >/dev/null
exec build/examples/fashion_mnist "$@"
