#!/usr/bin/env bash
# The main job: installs what is missing, builds Plexus in release mode and runs
# `plexus train`, which with no model file trains the course's Fashion-MNIST
# classifier (30 epochs) and saves it as model.h5. Options go to `plexus train`,
# e.g. scripts/run.sh --epochs 5 (see `plexus train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target plexus_cli >/dev/null
exec build/tools/plexus train "$@"
