# The distributed tests under mpirun, on this machine's loopback: each
# tests/dist/test_*.c program runs alone (the glob in tests/CMakeLists.txt)
# and here with 2 and 3 ranks; the scripts start their own mpirun jobs.
# --oversubscribe: more ranks than the cores CI machines have;
# mpi_yield_when_idle: a rank waiting in MPI leaves its core to the others.
# In the sanitizer build, LeakSanitizer's report is off for these tests: Open
# MPI keeps allocations until exit in plugins it unloads, which no suppression
# can name. AddressSanitizer's other checks stay on.
if(PX_HAVE_MPI AND PX_MPIEXEC)
  set(PX_MPIRUN ${PX_MPIEXEC} --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1)
  set(PX_DIST_ENV "PX_TEST_DATA=${CMAKE_CURRENT_SOURCE_DIR}/data")
  if(PX_SANITIZE)
    list(APPEND PX_DIST_ENV "ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1")
    set(PX_MPIRUN ${PX_MPIRUN} -x ASAN_OPTIONS)
  endif()
  set_tests_properties(test_dist_equal PROPERTIES ENVIRONMENT "${PX_DIST_ENV}")
  foreach(np 2 3)
    add_test(NAME test_dist_equal_np${np} COMMAND ${PX_MPIRUN} -np ${np} $<TARGET_FILE:test_dist_equal>
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(test_dist_equal_np${np} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                         ENVIRONMENT "${PX_DIST_ENV}")
  endforeach()
  # every replica on the reference device: the devices sum the gradients
  # between the processes themselves (src/backend/ref/ref_comm.c; NCCL on GPUs)
  add_test(NAME test_dist_equal_np2_on_ref COMMAND ${PX_MPIRUN} -np 2 -x PX_DEVICE $<TARGET_FILE:test_dist_equal>
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(test_dist_equal_np2_on_ref PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "${PX_DIST_ENV};PX_DEVICE=ref")
  # two hosts in network namespaces, ranks over TCP (skipped where they cannot be made)
  add_test(NAME test_dist_two_hosts
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/two_hosts.sh ${PX_MPIRUN} -- $<TARGET_FILE:test_dist_equal>
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(test_dist_two_hosts PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "${PX_DIST_ENV}")
endif()

# The command line and failures: `mpirun -np N plexus train` against one
# process, a rank killed in the middle of an epoch (its checkpoint resumes with
# another number of ranks), a rank that fails, disagrees or hangs.
if(PX_HAVE_MPI AND PX_MPIEXEC AND EXISTS /usr/bin/python3)
  add_executable(dist_failures ${CMAKE_CURRENT_LIST_DIR}/dist_failures.c)
  target_include_directories(dist_failures PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(dist_failures PRIVATE ${PX_PROGRAM_LIB})
  add_test(NAME test_dist_cli
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_dist_cli.py --plexus $<TARGET_FILE:plexus_cli>
                   --failures $<TARGET_FILE:dist_failures> --mpirun "${PX_MPIRUN}"
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(test_dist_cli PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "${PX_DIST_ENV}")
endif()
