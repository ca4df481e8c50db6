# Finds libzip for Keras 3's .keras archives (src/formats/zipfile.c). Include it after
# PlexusBlas.cmake, which starts PX_EXTRA_DEPS afresh.
find_path(PX_ZIP_INCLUDE_DIR zip.h)
find_library(PX_ZIP_LIBRARY NAMES zip)
if(NOT PX_ZIP_INCLUDE_DIR OR NOT PX_ZIP_LIBRARY)
  message(FATAL_ERROR "libzip not found: install libzip-dev (scripts/setup.sh does)")
endif()
message(STATUS "Plexus zip: ${PX_ZIP_LIBRARY}")
include_directories(SYSTEM ${PX_ZIP_INCLUDE_DIR})
# A full path, as for HDF5: the exported targets need no find_package(libzip).
list(APPEND PX_EXTRA_DEPS ${PX_ZIP_LIBRARY})
