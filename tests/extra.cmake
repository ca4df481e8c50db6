# Extra test registrations, included at the end of tests/CMakeLists.txt.
# bench_smoke: the benchmark suite (bench/run.py --smoke: 2,000 images, one
# repetition, one thread) against PyTorch and scikit-learn, with this build's
# bench programs, so the suite cannot rot; it fails if any side fails. Only in
# builds that have the bench programs (not the sanitizer build).
if(PX_BUILD_BENCH AND NOT PX_SANITIZE AND TARGET fashion_mlp AND TARGET bench_xor_steps AND TARGET bench_infer
   AND TARGET bench_roofline AND TARGET bench_lstm AND EXISTS /usr/bin/python3)
  add_test(NAME bench_smoke
    COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/bench/run.py --smoke --bin-dir ${CMAKE_BINARY_DIR}
            --out ${CMAKE_CURRENT_BINARY_DIR}/bench-smoke --timeout 120
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()

# bench_device (the GPU benchmark's Plexus side, scripts/gpu-check.sh) on the
# reference device with a few images, so that it cannot rot where there is no GPU.
if(PX_BUILD_BENCH AND TARGET bench_device)
  add_test(NAME bench_device_smoke COMMAND bench_device ref convnet 32 128 1)
  set_tests_properties(bench_device_smoke PROPERTIES TIMEOUT 120 LABELS bench
                       PASS_REGULAR_EXPRESSION "^plexus ref convnet batch 32 images 128 epoch_s [0-9.]+ step_ms [0-9.]+")
endif()
