# Finds libhdf5 (C) for the Keras .h5 model files (src/formats/h5util.c). Include it
# after PlexusBlas.cmake, which starts PX_EXTRA_DEPS afresh.
find_package(HDF5 REQUIRED COMPONENTS C)
message(STATUS "Plexus HDF5: ${HDF5_VERSION} (${HDF5_INCLUDE_DIRS})")
# SYSTEM: HDF5's headers are not ours to keep free of -Wall -Wextra warnings.
# Directory scope so that tests which build HDF5 fixtures see them too; no
# public Plexus header includes hdf5.h, so installed users never need them.
include_directories(SYSTEM ${HDF5_INCLUDE_DIRS})
if(HDF5_DEFINITIONS)
  add_compile_definitions(${HDF5_DEFINITIONS})
endif()
# Full paths rather than the hdf5::hdf5 target keep the exported Plexus targets
# usable without a find_package(HDF5) in PlexusConfig.cmake. Debian's h5cc also
# reports glibc's static stubs (libpthread.a, libdl.a), which Threads and
# CMAKE_DL_LIBS already cover and which do not belong in a shared library.
foreach(lib ${HDF5_C_LIBRARIES})
  if(NOT lib MATCHES "/lib(pthread|dl|rt|m)\\.a$")
    list(APPEND PX_EXTRA_DEPS ${lib})
  endif()
endforeach()
