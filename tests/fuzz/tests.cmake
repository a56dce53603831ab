# The libFuzzer harnesses (tests/fuzz/CMakeLists.txt) are built with clang as the external
# project sd_fuzzers, only when a test or scripts/fuzz.sh asks for them, and linked with
# this build's libraries for the non-parser code they reach. ctest builds them once
# (fuzz.build) and runs every target from its seed corpus for at least 10,000 executions
# under ASan+UBSan, stopping at the first finding.
include(ExternalProject)
find_program(SD_FUZZ_CLANGXX NAMES clang++ clang++-14)
find_program(SD_FUZZ_CLANG NAMES clang clang-14)
if(NOT SD_FUZZ_CLANGXX OR NOT SD_FUZZ_CLANG)
  message(WARNING "clang not found (scripts/setup.sh installs it): the fuzz.* tests will fail")
endif()
set(sd_fuzz_main_libs sd_pipeline sd_loaders sd_models sd_ops sd_backend sd_backend_cpu sd_sampling sd_core)
# Lists cross into the external project '|'-separated (LIST_SEPARATOR).
set(sd_fuzz_lib_files "")
foreach(lib ${sd_fuzz_main_libs})
  list(APPEND sd_fuzz_lib_files $<TARGET_FILE:${lib}>)
endforeach()
string(JOIN "|" sd_fuzz_lib_files ${sd_fuzz_lib_files})
# libgomp, as the g++-built backend was compiled with -fopenmp.
string(JOIN "|" sd_fuzz_extra_libs ${DNNL_LIB} ${OpenMP_CXX_LIBRARIES})
ExternalProject_Add(sd_fuzzers
  SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}
  BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
  LIST_SEPARATOR |
  CMAKE_ARGS
    -DCMAKE_CXX_COMPILER=${SD_FUZZ_CLANGXX}
    -DCMAKE_C_COMPILER=${SD_FUZZ_CLANG}
    -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
    -DSD_SOURCE_DIR=${CMAKE_SOURCE_DIR}
    -DSD_MAIN_LIBS=${sd_fuzz_lib_files}
    -DSD_EXTRA_LIBS=${sd_fuzz_extra_libs}
  INSTALL_COMMAND ""
  BUILD_ALWAYS TRUE
  EXCLUDE_FROM_ALL TRUE
  DEPENDS ${sd_fuzz_main_libs})

add_test(NAME fuzz.build COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target sd_fuzzers -j2)
set_tests_properties(fuzz.build PROPERTIES FIXTURES_SETUP sd_fuzzers TIMEOUT 900)
file(GLOB sd_fuzz_harnesses CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cpp)
foreach(src ${sd_fuzz_harnesses})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" target ${target})
  if(NOT target STREQUAL "support")
    add_test(NAME fuzz.${target}
      COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --no-build --build-dir ${CMAKE_BINARY_DIR}
              --min-runs 10000 ${target} 120)
    # 77: the CLIP vocabulary is missing on a developer's machine (in CI, a failure).
    set_tests_properties(fuzz.${target} PROPERTIES FIXTURES_REQUIRED sd_fuzzers SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endforeach()
