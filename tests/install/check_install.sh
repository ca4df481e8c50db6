#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a small outside
# program against it with CMake's find_package(Plexus) and with pkg-config,
# each against the shared and the static library, and checks that all four
# run (they print 3 + 4 = 7).
# Usage: check_install.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$here/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
for exe in consumer consumer_static; do
  out=$(LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" "$tmp/consumer/$exe")
  [[ "$out" == 7 ]] || { echo "find_package $exe printed '$out', expected 7"; exit 1; }
done
pc=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs plexus)
# shellcheck disable=SC2086
cc "$here/consumer/main.c" $flags -o "$tmp/pc_consumer"
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" "$tmp/pc_consumer")
[[ "$out" == 7 ]] || { echo "pkg-config consumer printed '$out', expected 7"; exit 1; }
# static: the archive in place of -lplexus, and Libs.private for what it needs
libdir=$(dirname "$pc")
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --static --cflags --libs plexus)
# shellcheck disable=SC2086
cc "$here/consumer/main.c" ${flags/-lplexus/$libdir/libplexus.a} -o "$tmp/pc_consumer_static"
out=$("$tmp/pc_consumer_static")
[[ "$out" == 7 ]] || { echo "pkg-config --static consumer printed '$out', expected 7"; exit 1; }
echo "install: find_package and pkg-config consumers, shared and static, print 7"
