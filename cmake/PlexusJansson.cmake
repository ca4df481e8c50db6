# Finds libjansson (Debian's libjansson-dev), the JSON parser under
# src/formats/json.c, and sets PX_JANSSON_LIBRARIES (full paths, so exported
# Plexus targets need no find step for it) and PX_JANSSON_INCLUDE_DIRS. No
# public Plexus header includes jansson.h: the shared library links it privately.
find_package(PkgConfig REQUIRED)
pkg_check_modules(JANSSON REQUIRED jansson>=2.14)
message(STATUS "Plexus JSON: jansson ${JANSSON_VERSION}")
set(PX_JANSSON_LIBRARIES ${JANSSON_LINK_LIBRARIES})
set(PX_JANSSON_INCLUDE_DIRS ${JANSSON_INCLUDE_DIRS})
