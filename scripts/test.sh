#!/usr/bin/env bash
# Runs every test: installs what is missing, builds Plexus in release mode and
# with AddressSanitizer + UndefinedBehaviorSanitizer, and runs CTest on both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)

echo "== release build =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== valgrind leak check of the core unit tests =="
for t in build/tests/test_graph build/tests/test_tensor build/tests/test_ops_* build/tests/test_optimizers \
         build/tests/test_data build/tests/test_json; do
  [[ -x "$t" ]] || continue
  if ! (cd tests && PX_TEST_DATA="$PWD/data" valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
          --error-exitcode=3 "../$t" >/dev/null); then
    echo "valgrind: $t reported errors or leaks"; exit 1
  fi
  echo "valgrind: $(basename "$t") clean"
done

echo "== sanitize build (ASan + UBSan) =="
# The CUDA module is built and its tests run (skipped without a GPU) in the release build.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DPX_SANITIZE=ON -DPX_BUILD_BENCH=OFF -DPX_CUDA=OFF >/dev/null
cmake --build build-sanitize -j"$jobs"
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
  PX_TEST_SANITIZE=1 ctest --output-on-failure -j"$jobs")
