# Chooses the matrix-product library (PX_BLAS). The BLAS is loaded at run time
# with dlopen so that Plexus can pick OpenBLAS's kernel before the library reads
# OPENBLAS_CORETYPE (see src/backend/cpu/blas.c); here we only find its file.
set(PX_BLAS_DEFINITIONS "")
set(PX_EXTRA_DEPS "")
if(PX_BLAS STREQUAL "openblas")
  find_file(PX_BLAS_LIBRARY NAMES libopenblas.so.0
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
          /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
          /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib /usr/local/lib
    NO_DEFAULT_PATH)
elseif(PX_BLAS STREQUAL "blis")
  find_file(PX_BLAS_LIBRARY NAMES libblis.so.4
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-openmp
          /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-pthread
          /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib /usr/local/lib
    NO_DEFAULT_PATH)
elseif(NOT PX_BLAS STREQUAL "builtin")
  message(FATAL_ERROR "PX_BLAS must be openblas, blis or builtin (got '${PX_BLAS}')")
endif()
if(NOT PX_BLAS STREQUAL "builtin")
  if(NOT PX_BLAS_LIBRARY)
    message(FATAL_ERROR "PX_BLAS=${PX_BLAS}: library not found; run scripts/setup.sh or configure with -DPX_BLAS=builtin")
  endif()
  message(STATUS "Plexus BLAS: ${PX_BLAS} (${PX_BLAS_LIBRARY})")
  list(APPEND PX_BLAS_DEFINITIONS PX_BLAS_${PX_BLAS} "PX_BLAS_PATH=\"${PX_BLAS_LIBRARY}\"")
else()
  message(STATUS "Plexus BLAS: builtin kernel only")
  list(APPEND PX_BLAS_DEFINITIONS PX_BLAS_builtin)
endif()

# The builtin kernel relies on multiply-adds being fused into FMA instructions
# in its AVX2/AVX-512 variants; ISO C mode (-std=c11) turns that contraction off.
if(CMAKE_C_COMPILER_ID STREQUAL "GNU" OR CMAKE_C_COMPILER_ID MATCHES "Clang")
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/src/backend/cpu/gemm_builtin.c
    PROPERTIES COMPILE_OPTIONS "-ffp-contract=fast")
endif()
