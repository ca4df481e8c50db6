# Finds libjansson (Debian's libjansson-dev), the JSON parser under
# src/formats/json.c, and sets PX_JANSSON_LIBRARIES (full paths, so exported
# Plexus targets need no find step for it) and PX_JANSSON_INCLUDE_DIRS. No
# public Plexus header includes jansson.h: the shared library links it privately.
# Through pkg-config where there is one; otherwise (a bare GPU machine with
# jansson carried by scripts/gpu-check.sh, which has no pkg-config) jansson.h
# and the library under JANSSON_ROOT or the usual prefixes.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND AND NOT JANSSON_ROOT)
  pkg_check_modules(JANSSON REQUIRED jansson>=2.14)
  set(PX_JANSSON_LIBRARIES ${JANSSON_LINK_LIBRARIES})
  set(PX_JANSSON_INCLUDE_DIRS ${JANSSON_INCLUDE_DIRS})
else()
  find_path(PX_JANSSON_INCLUDE jansson.h HINTS ${JANSSON_ROOT} PATH_SUFFIXES include)
  find_library(PX_JANSSON_LIBRARY jansson HINTS ${JANSSON_ROOT} PATH_SUFFIXES lib)
  if(NOT PX_JANSSON_INCLUDE OR NOT PX_JANSSON_LIBRARY)
    message(FATAL_ERROR "jansson (jansson.h and libjansson) not found: install libjansson-dev or set JANSSON_ROOT")
  endif()
  file(STRINGS ${PX_JANSSON_INCLUDE}/jansson.h px_jv REGEX "#define JANSSON_VERSION +\"")
  string(REGEX REPLACE ".*\"(.*)\".*" "\\1" JANSSON_VERSION "${px_jv}")
  if(JANSSON_VERSION VERSION_LESS 2.14)
    message(FATAL_ERROR "jansson ${JANSSON_VERSION} in ${PX_JANSSON_INCLUDE}: Plexus needs 2.14 or later")
  endif()
  set(PX_JANSSON_LIBRARIES ${PX_JANSSON_LIBRARY})
  set(PX_JANSSON_INCLUDE_DIRS ${PX_JANSSON_INCLUDE})
endif()
message(STATUS "Plexus JSON: jansson ${JANSSON_VERSION}")
