#!/bin/bash
# A long fuzz campaign for one target, bounded by CPU time rather than wall time
# (a loaded machine gives a target only part of a core):
#   tests/fuzz/campaign.sh BIN TARGET [CPU_SECONDS [WALL_SECONDS]]
# BIN is the fuzz build folder that the fuzz_build test makes (build/fuzz) or
# that build_fuzzers.cmake writes; new inputs go to BIN/campaign/TARGET, so a
# second run continues from the first one's corpus; the log is
# BIN/campaign/TARGET.log (libFuzzer's final stats at the end).
set -u
BIN=$1 T=$2 CPU_LIMIT=${3:-600} WALL_LIMIT=${4:-7200}
SRC=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BIN/campaign/$T" "$BIN/artifacts"
# libhdf5's own leak on corrupt files is suppressed as in the suite (lsan.supp)
ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$SRC/lsan.supp \
  nice -n 10 "$BIN/build/fuzz_$T" -seed=1 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$BIN/artifacts/$T-" "$BIN/campaign/$T" "$SRC/corpus/$T" > "$BIN/campaign/$T.log" 2>&1 &
pid=$!
start=$(date +%s) tck=$(getconf CLK_TCK) cpu=0
while kill -0 $pid 2>/dev/null; do
  sleep 5
  # the fuzzer's CPU time and that of its waited-for children (fuzz_model's isolated loads)
  read -r -a f 2>/dev/null < /proc/$pid/stat || break
  cpu=$(( (f[13] + f[14] + f[15] + f[16]) / tck ))
  if [ $cpu -ge "$CPU_LIMIT" ] || [ $(( $(date +%s) - start )) -ge "$WALL_LIMIT" ]; then kill -INT $pid; fi
done
wait $pid
rc=$?
# 72: libFuzzer's exit status when interrupted, the normal end here
echo "fuzz_$T: exit $rc after $(( $(date +%s) - start )) s of wall time and about $cpu s of CPU; log in $BIN/campaign/$T.log"
[ $rc -eq 72 ] || [ $rc -eq 0 ]
