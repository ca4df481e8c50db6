# Plexus's version, in one place: read by the main project() and by the fuzz
# project, and written into the generated header plexus/version.h.
set(PX_VERSION 0.1.0)

# Writes <dir>/plexus/version.h from include/plexus/version.h.in.
function(px_generate_version_header dir)
  string(REPLACE "." ";" parts ${PX_VERSION})
  list(GET parts 0 PROJECT_VERSION_MAJOR)
  list(GET parts 1 PROJECT_VERSION_MINOR)
  list(GET parts 2 PROJECT_VERSION_PATCH)
  set(PROJECT_VERSION ${PX_VERSION})
  configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../include/plexus/version.h.in ${dir}/plexus/version.h @ONLY)
endfunction()
