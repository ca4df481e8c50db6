# Runs one fuzz target briefly (cmake -P): -DBIN=<dir> -DSRC=tests/fuzz -DT=<target> -DRUNS=<n>.
# New inputs go to BIN/work/T; the committed seeds in SRC/corpus/T are only read.
if(NOT EXISTS ${BIN}/build/fuzz_${T})
  message("fuzz_${T} skipped: the fuzz targets were not built (clang or libFuzzer missing)")
  return()
endif()
# fuzz_model forks a child per load for the HDF5 read (src/core/isolate.c), a few
# ms each, and an input that makes libhdf5 loop costs PX_LOAD_TIMEOUT (1 s):
# -max_total_time bounds the run whatever it meets
set(runs ${RUNS})
# libhdf5 1.10 leaks on some corrupt files by itself (see lsan.supp); the
# suppression matches a libhdf5 frame, which libhdf5's missing frame pointers
# hide from the fast unwinder, hence the slow one
set(ENV{ASAN_OPTIONS} "$ENV{ASAN_OPTIONS}:fast_unwind_on_malloc=0")
set(ENV{LSAN_OPTIONS} "$ENV{LSAN_OPTIONS}:suppressions=${SRC}/lsan.supp")
file(MAKE_DIRECTORY ${BIN}/artifacts)
execute_process(COMMAND ${BIN}/build/fuzz_${T} -seed=1 -runs=${runs} -max_total_time=20 -timeout=5 -rss_limit_mb=2048
                        -artifact_prefix=${BIN}/artifacts/${T}- ${BIN}/work/${T} ${SRC}/corpus/${T}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz_${T} found a failure (exit ${rc}); the input is saved in ${BIN}/artifacts")
endif()

# A sanitizer report from an isolated child does not stop the fuzzer (the parent
# only sees a failed load), so the reports are triaged here by their first frame
# outside the sanitizer runtime: libhdf5's own memory errors on corrupt files
# (e.g. a use-after-free under H5Aexists_by_name) are what the isolation is for;
# one in Plexus's code fails the test.
string(REPLACE ";" "," out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(in_report OFF)
set(ours 0)
set(theirs 0)
foreach(line IN LISTS lines)
  if(line MATCHES "ERROR: [A-Za-z]+Sanitizer")
    set(in_report ON)
    set(head "${line}")
  elseif(in_report AND line MATCHES "^ *#[0-9]+ ")
    if(line MATCHES " in (__interceptor_|__asan|__sanitizer|__lsan|__ubsan|malloc|calloc|realloc|free|strdup|memcpy|memmove|memset) ")
      continue()
    endif()
    if(line MATCHES "libhdf5")
      math(EXPR theirs "${theirs} + 1")
    else()
      math(EXPR ours "${ours} + 1")
      message("fuzz_${T}: a sanitizer report in Plexus's code: ${head}\n  ${line}")
    endif()
    set(in_report OFF)
  endif()
endforeach()
if(theirs GREATER 0)
  message("fuzz_${T}: ${theirs} sanitizer report(s) inside libhdf5, in the isolated children (fine: the loads failed cleanly)")
endif()
if(ours GREATER 0)
  message(FATAL_ERROR "fuzz_${T}: ${ours} sanitizer report(s) in Plexus's code in isolated children; the inputs are in ${BIN}/artifacts")
endif()
