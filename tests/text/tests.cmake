# Extras for test_text: the same tests built a second time under AddressSanitizer+UBSan as
# test_text_asan, so that "no crash or memory error on hostile prompts" is checked by every
# plain `ctest` run. It compiles the sources it tests itself (linking the uninstrumented
# libraries would leave them unchecked): src/text, and the core and io files it needs.
file(GLOB sd_text_asan_srcs CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/src/core/*.cpp
  ${CMAKE_SOURCE_DIR}/src/text/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
add_executable(test_text_asan ${sd_text_asan_srcs}
  ${CMAKE_SOURCE_DIR}/src/io/json_file.cpp
  ${CMAKE_SOURCE_DIR}/src/io/safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/test_support.cpp)
set(sd_text_asan_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_compile_options(test_text_asan PRIVATE ${sd_text_asan_flags} -O1 -g)
target_link_options(test_text_asan PRIVATE ${sd_text_asan_flags})
target_include_directories(test_text_asan PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(test_text_asan PRIVATE
  SD_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SD_BINARY_DIR="${CMAKE_BINARY_DIR}")
target_link_libraries(test_text_asan PRIVATE GTest::gtest_main nlohmann_json::nlohmann_json
  ${UTF8PROC_LIB} Threads::Threads)
gtest_discover_tests(test_text_asan TEST_PREFIX "asan." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1")
