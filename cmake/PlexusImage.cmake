# Finds libpng and libjpeg (Debian's libpng-dev and libjpeg62-turbo-dev), the
# decoders under src/formats/image.c. Include it after PlexusBlas.cmake, which
# starts PX_EXTRA_DEPS afresh. Full paths, as for HDF5, so the exported targets
# need no find step; no public Plexus header includes png.h or jpeglib.h.
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
message(STATUS "Plexus images: libpng ${PNG_VERSION_STRING}, libjpeg ${JPEG_VERSION}")
include_directories(SYSTEM ${PNG_INCLUDE_DIRS} ${JPEG_INCLUDE_DIRS})
if(PNG_DEFINITIONS)
  add_compile_definitions(${PNG_DEFINITIONS})
endif()
list(APPEND PX_EXTRA_DEPS ${PNG_LIBRARIES} ${JPEG_LIBRARIES})
