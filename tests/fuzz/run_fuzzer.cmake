# Runs one fuzz target briefly (cmake -P): -DBIN=<dir> -DSRC=tests/fuzz -DT=<target> -DRUNS=<n>.
# New inputs go to BIN/work/T; the committed seeds in SRC/corpus/T are only read.
if(NOT EXISTS ${BIN}/build/fuzz_${T})
  message("fuzz_${T} skipped: the fuzz targets were not built (clang or libFuzzer missing)")
  return()
endif()
# libhdf5 (not instrumented) leaks on some corrupt files; those leaks are not ours
set(ENV{LSAN_OPTIONS} "suppressions=${SRC}/lsan.supp")
set(runs ${RUNS})
if(T STREQUAL "model")
  # libhdf5 1.10 (Debian's) crashes or hangs inside its own code on many corrupt
  # files (docs/model-files.md), so the suite only replays the seeds through the
  # whole loader; Plexus's parsing is fuzzed by model_json, long runs by hand
  set(runs 0)
endif()
execute_process(COMMAND ${BIN}/build/fuzz_${T} -seed=1 -runs=${runs} -max_total_time=20 -timeout=5 -rss_limit_mb=2048
                        ${BIN}/work/${T} ${SRC}/corpus/${T} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz_${T} found a failure (exit ${rc}); the input is saved in ${BIN}")
endif()
