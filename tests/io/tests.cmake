# Extras for test_io: cpp-httplib for the loopback Hugging Face Hub server, and the same
# tests built a second time under AddressSanitizer+UBSan as test_io_asan, so that "no crash
# or memory error on hostile input" is checked by every plain `ctest` run. The sanitized
# program compiles the core and io sources it tests itself: linking the uninstrumented
# libraries would leave the code under test unchecked.

# Debian ships cpp-httplib as a compiled library whose defines (TLS, zlib, brotli) the
# header must see too, so it comes through pkg-config rather than as a bare include path.
pkg_check_modules(SD_IO_TEST_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
target_link_libraries(test_io PRIVATE PkgConfig::SD_IO_TEST_HTTPLIB)

file(GLOB sd_io_asan_srcs CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/src/core/*.cpp
  ${CMAKE_SOURCE_DIR}/src/io/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
add_executable(test_io_asan ${sd_io_asan_srcs} ${CMAKE_CURRENT_LIST_DIR}/../support/test_support.cpp)
set(sd_asan_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_compile_options(test_io_asan PRIVATE ${sd_asan_flags} -O1 -g)
target_link_options(test_io_asan PRIVATE ${sd_asan_flags})
target_include_directories(test_io_asan PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(test_io_asan PRIVATE
  SD_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SD_BINARY_DIR="${CMAKE_BINARY_DIR}")
target_link_libraries(test_io_asan PRIVATE GTest::gtest_main nlohmann_json::nlohmann_json
  ${SPNG_LIB} JPEG::JPEG CURL::libcurl Threads::Threads PkgConfig::SD_IO_TEST_HTTPLIB)
gtest_discover_tests(test_io_asan TEST_PREFIX "asan." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1")
