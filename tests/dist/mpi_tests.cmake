# The distributed tests under mpirun, on this machine's loopback: each
# tests/dist program runs alone (the glob in tests/CMakeLists.txt) and here
# with 2 and 3 ranks. --oversubscribe: more ranks than the cores CI machines
# have; yield_when_idle: ranks waiting in MPI leave the core to the others.
if(PX_HAVE_MPI AND PX_MPIEXEC)
  set(PX_MPIRUN ${PX_MPIEXEC} --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1
      --mca btl self,vader,tcp)
  foreach(np 2 3)
    add_test(NAME test_dist_equal_np${np} COMMAND ${PX_MPIRUN} -np ${np} $<TARGET_FILE:test_dist_equal>
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(test_dist_equal_np${np} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
      ENVIRONMENT "PX_TEST_DATA=${CMAKE_CURRENT_SOURCE_DIR}/data;OMPI_MCA_rmaps_base_oversubscribe=1")
  endforeach()
endif()
