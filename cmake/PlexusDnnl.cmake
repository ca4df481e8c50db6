# Finds oneDNN (Debian's libdnnl-dev) for the bf16 products of the mixed_bfloat16
# policy (src/backend/cpu/gemm_bf16.c). Optional: without it the policy is refused
# with a one-line error. Include it after PlexusBlas.cmake, which starts PX_EXTRA_DEPS.
option(PX_DNNL "bf16 products through oneDNN when it is found" ON)
if(PX_DNNL)
  find_path(PX_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(PX_DNNL_LIBRARY NAMES dnnl)
endif()
if(PX_DNNL AND PX_DNNL_INCLUDE_DIR AND PX_DNNL_LIBRARY)
  message(STATUS "Plexus bf16 products: ${PX_DNNL_LIBRARY}")
  include_directories(SYSTEM ${PX_DNNL_INCLUDE_DIR})
  list(APPEND PX_EXTRA_DEPS ${PX_DNNL_LIBRARY})
  add_compile_definitions(PX_HAVE_DNNL=1)
else()
  message(STATUS "Plexus bf16 products: none (install libdnnl-dev for mixed_bfloat16)")
endif()
