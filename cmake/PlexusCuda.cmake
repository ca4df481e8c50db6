# The CUDA backend (PX_CUDA): a module, libplexus_cuda.so, that the library
# opens at run time with dlopen (src/backend/device.c), so libplexus runs where
# CUDA is absent. ON by default when nvcc is found. cuBLAS is required; cuDNN
# (convolutions) and NCCL (gradients between processes) are used when found
# (PX_CUDNN, PX_NCCL; hints: CUDNN_ROOT, NCCL_ROOT).
#
# GPU architectures: CMAKE_CUDA_ARCHITECTURES when given; otherwise those of
# the GPUs nvidia-smi reports (native code for this machine); otherwise, with
# no GPU present, PTX for the oldest architecture this nvcc supports, which
# every newer GPU compiles when the module is first loaded.
include(CheckLanguage)
check_language(CUDA)
set(px_cuda_default OFF)
if(CMAKE_CUDA_COMPILER)
  set(px_cuda_default ON)
endif()
option(PX_CUDA "Build the CUDA backend module (needs nvcc and cuBLAS)" ${px_cuda_default})
set(PX_CUDNN "AUTO" CACHE STRING "Use cuDNN (convolutions, pooling, batch normalization, recurrent layers) in the CUDA backend: AUTO, ON or OFF")
set(PX_NCCL "AUTO" CACHE STRING "Use NCCL for multi-process GPU gradients: AUTO, ON or OFF")

set(PX_CUDA_DEFINITIONS "")
if(NOT PX_CUDA)
  message(STATUS "Plexus CUDA backend: off")
  return()
endif()
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "PX_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER or configure with -DPX_CUDA=OFF")
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(px_archs "")
  find_program(PX_NVIDIA_SMI nvidia-smi)
  if(PX_NVIDIA_SMI)
    execute_process(COMMAND ${PX_NVIDIA_SMI} --query-gpu=compute_cap --format=csv,noheader
      OUTPUT_VARIABLE px_caps RESULT_VARIABLE px_smi_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(px_smi_rc EQUAL 0)
      string(REPLACE "\n" ";" px_caps "${px_caps}")
      foreach(cap ${px_caps})
        string(STRIP "${cap}" cap)
        if(cap MATCHES "^([0-9]+)\\.([0-9]+)$")
          list(APPEND px_archs "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
        endif()
      endforeach()
      list(REMOVE_DUPLICATES px_archs)
    endif()
  endif()
  if(px_archs)
    message(STATUS "Plexus CUDA architectures: ${px_archs} (the GPUs of this machine)")
  else()
    execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --list-gpu-arch
      OUTPUT_VARIABLE px_list RESULT_VARIABLE px_list_rc ERROR_QUIET)
    set(px_oldest "")
    if(px_list_rc EQUAL 0)
      string(REGEX MATCHALL "compute_([0-9]+)" px_found "${px_list}")
      foreach(a ${px_found})
        string(REPLACE "compute_" "" a "${a}")
        if(px_oldest STREQUAL "" OR a LESS px_oldest)
          set(px_oldest ${a})
        endif()
      endforeach()
    endif()
    if(px_oldest STREQUAL "")
      message(FATAL_ERROR "Plexus CUDA: no GPU found and '${CMAKE_CUDA_COMPILER} --list-gpu-arch' gave no architectures; set CMAKE_CUDA_ARCHITECTURES")
    endif()
    set(px_archs "${px_oldest}-virtual")
    message(STATUS "Plexus CUDA architectures: ${px_archs} (no GPU here: PTX for the oldest architecture nvcc supports, compiled for the GPU at load time)")
  endif()
  set(CMAKE_CUDA_ARCHITECTURES "${px_archs}")
endif()

enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

set(px_cuda_libs CUDA::cudart CUDA::cublas)
set(px_cuda_rpath ${CUDAToolkit_LIBRARY_DIR})
set(px_cuda_defs "")

# An optional CUDA library: library and header found -> linked and PX_HAVE_<NAME> defined.
function(px_optional_cuda_lib var name header hint)
  if(${var} STREQUAL "OFF")
    message(STATUS "Plexus CUDA: ${name} off")
    return()
  endif()
  find_library(PX_${name}_LIBRARY ${name} HINTS ${hint} $ENV{${hint}} ${CUDAToolkit_LIBRARY_DIR}
    PATH_SUFFIXES lib lib64)
  find_path(PX_${name}_INCLUDE ${header} HINTS ${hint} $ENV{${hint}} ${CUDAToolkit_INCLUDE_DIRS}
    PATH_SUFFIXES include)
  if(PX_${name}_LIBRARY AND PX_${name}_INCLUDE)
    message(STATUS "Plexus CUDA: ${name} (${PX_${name}_LIBRARY})")
    string(TOUPPER ${name} up)
    set(px_cuda_defs ${px_cuda_defs} PX_HAVE_${up} PARENT_SCOPE)
    set(px_cuda_libs ${px_cuda_libs} ${PX_${name}_LIBRARY} PARENT_SCOPE)
    set(px_cuda_incs ${px_cuda_incs} ${PX_${name}_INCLUDE} PARENT_SCOPE)
    get_filename_component(dir ${PX_${name}_LIBRARY} DIRECTORY)
    set(px_cuda_rpath ${px_cuda_rpath} ${dir} PARENT_SCOPE)
  elseif(${var} STREQUAL "ON")
    message(FATAL_ERROR "${var}=ON but ${name} (${header} and lib${name}) was not found; set ${hint}")
  else()
    message(STATUS "Plexus CUDA: ${name} not found; built without it")
  endif()
endfunction()
set(px_cuda_incs "")
px_optional_cuda_lib(PX_CUDNN cudnn cudnn.h CUDNN_ROOT)
px_optional_cuda_lib(PX_NCCL nccl nccl.h NCCL_ROOT)

file(GLOB PX_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/backend/cuda/*.cu)
add_library(plexus_cuda MODULE ${PX_CUDA_SOURCES})
target_include_directories(plexus_cuda PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/include
  ${CMAKE_CURRENT_BINARY_DIR}/include)
target_include_directories(plexus_cuda SYSTEM PRIVATE ${px_cuda_incs})
target_compile_definitions(plexus_cuda PRIVATE ${px_cuda_defs})
target_compile_options(plexus_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-fvisibility=hidden>)
target_link_libraries(plexus_cuda PRIVATE ${px_cuda_libs})
set_target_properties(plexus_cuda PROPERTIES
  PREFIX "lib" OUTPUT_NAME plexus_cuda
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  CUDA_VISIBILITY_PRESET hidden
  BUILD_RPATH "${px_cuda_rpath}" INSTALL_RPATH "${px_cuda_rpath}")
install(TARGETS plexus_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# What the library needs to find the module (src/backend/device.c).
set(PX_CUDA_DEFINITIONS
  "PX_CUDA_MODULE_NAME=\"libplexus_cuda.so\""
  "PX_CUDA_MODULE_BUILT=\"${CMAKE_CURRENT_BINARY_DIR}/libplexus_cuda.so\""
  "PX_CUDA_MODULE_INSTALLED=\"${CMAKE_INSTALL_FULL_LIBDIR}/libplexus_cuda.so\"")
