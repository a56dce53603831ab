# The parsers of untrusted bytes (safetensors headers, JSON configs, images and their
# metadata, base64, Hub answers, prompts) run their tests a second time under
# AddressSanitizer+UBSan as test_asan, so "no crash or memory error on hostile input" is
# checked by every plain `ctest` run. The program compiles the sources under test itself:
# linking the uninstrumented libraries would leave them unchecked.
file(GLOB sd_asan_srcs CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/src/core/*.cpp
  ${CMAKE_SOURCE_DIR}/src/io/*.cpp
  ${CMAKE_SOURCE_DIR}/src/text/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/io/*_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/text/*_test.cpp)
# The built-in CLIP merges, generated for sd_text (../CMakeLists.txt).
add_executable(test_asan ${sd_asan_srcs} ${clip_merges_cpp} ${CMAKE_CURRENT_LIST_DIR}/support/test_support.cpp)
add_dependencies(test_asan sd_text)
set(sd_asan_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_compile_options(test_asan PRIVATE ${sd_asan_flags} -O1 -g)
target_link_options(test_asan PRIVATE ${sd_asan_flags})
target_include_directories(test_asan PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(test_asan PRIVATE
  SD_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SD_BINARY_DIR="${CMAKE_BINARY_DIR}")
target_link_libraries(test_asan PRIVATE GTest::gtest_main nlohmann_json::nlohmann_json
  ${SPNG_LIB} JPEG::JPEG PkgConfig::WEBP OpenSSL::Crypto CURL::libcurl ${UTF8PROC_LIB} Threads::Threads
  PkgConfig::HTTPLIB)
gtest_discover_tests(test_asan TEST_PREFIX "asan." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1")
