# Builds the fuzz targets with clang (cmake -P): -DCLANG=... -DSRC=tests/fuzz -DBIN=<dir>
# [-DJANSSON_SRC=<jansson source tree> to fuzz jansson instrumented, see project/].
# Without clang or its libFuzzer runtime it says so and exits 0 so the fuzz tests skip.
if(NOT CLANG OR NOT EXISTS "${CLANG}")
  message(STATUS "fuzzing skipped: clang not found (apt-get install clang)")
  return()
endif()
file(MAKE_DIRECTORY ${BIN}/probe)
file(WRITE ${BIN}/probe/probe.c "#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
execute_process(COMMAND ${CLANG} -fsanitize=fuzzer,address,undefined ${BIN}/probe/probe.c -o ${BIN}/probe/probe
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
  message(STATUS "fuzzing skipped: ${CLANG} cannot link -fsanitize=fuzzer (libFuzzer runtime missing)")
  return()
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/project -B ${BIN}/build -DCMAKE_C_COMPILER=${CLANG}
                        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPX_FUZZ_JANSSON_SRC=${JANSSON_SRC} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz targets failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN}/build -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzz targets failed")
endif()
foreach(t model model_json json idx csv)
  file(MAKE_DIRECTORY ${BIN}/work/${t})
endforeach()
