# The CUDA backend (src/backend/cuda): SD_CUDA=AUTO builds it when nvcc, cuBLASLt and
# cuDNN are found (the toolkit's default place is /usr/local/cuda), ON requires them,
# OFF (or AUTO without them) leaves today's CPU-only build untouched.
# Sets SD_HAVE_CUDA and, when ON, the library target sd_backend_cuda.
set(SD_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO, ON or OFF")
set_property(CACHE SD_CUDA PROPERTY STRINGS AUTO ON OFF)
set(SD_HAVE_CUDA OFF)

function(sd_cuda_missing what)
  if(SD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SD_CUDA=ON but ${what} was not found")
  endif()
  message(STATUS "CUDA backend off: ${what} not found")
endfunction()

if(NOT SD_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(SD_NVCC nvcc HINTS $ENV{CUDA_HOME}/bin /usr/local/cuda/bin)
    if(SD_NVCC)
      set(CMAKE_CUDA_COMPILER ${SD_NVCC})
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    sd_cuda_missing("nvcc")
    return()
  endif()
  get_filename_component(sd_cuda_bin ${CMAKE_CUDA_COMPILER} DIRECTORY)
  get_filename_component(sd_cuda_root ${sd_cuda_bin} DIRECTORY)
  set(CUDAToolkit_ROOT ${sd_cuda_root})
  find_package(CUDAToolkit)
  find_path(SD_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${sd_cuda_root}/include)
  find_library(SD_CUDNN_LIB cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${sd_cuda_root}/lib64)
  if(NOT CUDAToolkit_FOUND OR NOT TARGET CUDA::cublasLt)
    sd_cuda_missing("the CUDA toolkit with cuBLASLt")
    return()
  endif()
  if(NOT SD_CUDNN_INCLUDE OR NOT SD_CUDNN_LIB)
    sd_cuda_missing("cuDNN")
    return()
  endif()

  # Hopper (H200) by default: one architecture keeps the CI compile to a few minutes.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(SD_HAVE_CUDA ON)

  file(GLOB_RECURSE sd_cuda_srcs CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/src/backend/cuda/*.cpp ${CMAKE_SOURCE_DIR}/src/backend/cuda/*.cu)
  # A shared library beside the programs, which the backend registry (src/backend/registry.cpp)
  # loads on the first use of a cuda device: linked into the programs, cuBLASLt's constructors
  # cost about 0.7 s and 200 MB at every start, CPU runs and --help included. Its sd_core
  # symbols are left to the program's own (one device registry, one pool), so every program
  # exports its symbols (CMAKE_ENABLE_EXPORTS, ../CMakeLists.txt).
  add_library(sd_backend_cuda SHARED ${sd_cuda_srcs})
  set_target_properties(sd_backend_cuda PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  target_include_directories(sd_backend_cuda PUBLIC ${CMAKE_SOURCE_DIR}/src ${SD_CUDNN_INCLUDE})
  target_link_libraries(sd_backend_cuda PUBLIC CUDA::cudart CUDA::cublasLt ${SD_CUDNN_LIB})
  target_compile_options(sd_backend_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
  message(STATUS "CUDA backend on: ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
endif()
