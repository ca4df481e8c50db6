#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a small outside
# program against it with CMake's find_package(Plexus) and with pkg-config,
# each against the shared and the static library, and checks that all four
# run (they print 3 + 4 = 7 after checking px_version() against the headers), and
# that libplexus.so exports exactly the functions the headers mark PX_API.
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
# the public surface: the shared library's symbols against the installed headers' PX_API
# declarations (everything else is built hidden)
so=$(ls "$tmp"/prefix/lib*/libplexus.so | head -1)
nm -D --defined-only "$so" | awk '{print $3}' | sort -u >"$tmp/exported"
grep -h 'PX_API' "$tmp"/prefix/include/plexus/*.h | grep -v '#define' | grep -o 'PX_API[^;(]*(' |
  grep -o '[A-Za-z_][A-Za-z0-9_]*($' | tr -d '(' | sort -u >"$tmp/declared"
if ! cmp -s "$tmp/exported" "$tmp/declared"; then
  echo "libplexus.so exports what the headers do not mark PX_API (<), or misses what they do (>):"
  diff "$tmp/exported" "$tmp/declared" | grep '^[<>]' | head -20
  exit 1
fi
echo "install: find_package and pkg-config consumers, shared and static, print 7; libplexus.so exports the $(wc -l <"$tmp/declared") PX_API functions and nothing else"
