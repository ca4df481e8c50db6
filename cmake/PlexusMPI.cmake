# Finds MPI (Debian's Open MPI) for data-parallel training (src/dist/). The
# option PX_MPI is on by default and takes effect when MPI is found; without
# it the library builds all the same, and src/dist/dist_nompi.c answers the
# distributed API with a "built without MPI" error. Include it after
# PlexusBlas.cmake, which starts PX_EXTRA_DEPS afresh.
set(PX_HAVE_MPI OFF)
if(PX_MPI)
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(PX_HAVE_MPI ON)
  endif()
endif()
if(PX_HAVE_MPI)
  message(STATUS "Plexus MPI: ${MPI_C_LIBRARIES}")
  find_program(PX_MPIEXEC NAMES mpirun mpiexec HINTS ${MPI_HOME} PATH_SUFFIXES bin)
  # Full paths, as for HDF5: the exported targets need no find_package(MPI).
  list(APPEND PX_EXTRA_DEPS ${MPI_C_LIBRARIES})
  list(FILTER PX_SOURCES EXCLUDE REGEX "/src/dist/dist_nompi\\.c$")
else()
  message(STATUS "Plexus MPI: not used (distributed training unavailable)")
  list(FILTER PX_SOURCES EXCLUDE REGEX "/src/dist/mpi_[^/]*\\.c$")
endif()
