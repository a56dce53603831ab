# End-to-end tests: the built sd-worker-cpu (and sd-generate, for the reference image) run as
# child processes and are driven over HTTP on loopback.
file(GLOB sd_server_e2e_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/e2e/*.cpp)
add_executable(test_server_e2e ${sd_server_e2e_srcs})
target_link_libraries(test_server_e2e PRIVATE sd_test_support GTest::gtest_main sd_server)
target_include_directories(test_server_e2e PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_dependencies(test_server_e2e sd-worker-cpu sd-generate)
gtest_discover_tests(test_server_e2e DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "${sd_test_cache_env}")

# ThreadSanitizer run of the server's threads (registry, engine thread, HTTP I/O thread and
# handler pool, streams, heartbeats): the server sources and their tests compiled with
# -fsanitize=thread into test_tsan. Off by default (it compiles the server a second time);
# scripts/tsan.sh builds and runs it in a build folder of its own.
option(SD_TSAN "Build test_tsan, the server tests under ThreadSanitizer" OFF)
if(SD_TSAN)
  file(GLOB_RECURSE sd_tsan_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/server/*.cpp)
  file(GLOB sd_tsan_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
  add_executable(test_tsan ${sd_tsan_srcs} ${web_assets_cpp} ${git_commit_cpp} ${sd_tsan_tests}
    ${CMAKE_CURRENT_LIST_DIR}/../support/test_support.cpp)
  add_dependencies(test_tsan sd_git_commit)
  set(sd_tsan_flags -fsanitize=thread -fno-omit-frame-pointer)
  target_compile_options(test_tsan PRIVATE ${sd_tsan_flags} -O1 -g)
  target_link_options(test_tsan PRIVATE ${sd_tsan_flags})
  target_include_directories(test_tsan PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_CURRENT_LIST_DIR}/..)
  target_compile_definitions(test_tsan PRIVATE SD_WORKER_VERSION="${PROJECT_VERSION}"
    SD_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  # The layers below the server are linked uninstrumented: the server's threads meet them
  # only through the engine thread, which owns the pipeline alone.
  target_link_libraries(test_tsan PRIVATE GTest::gtest_main sd_pipeline sd_io Boost::headers
    CURL::libcurl ${UUID_LIB} PkgConfig::HTTPLIB)
  add_test(NAME tsan.server COMMAND test_tsan)
  set_tests_properties(tsan.server PROPERTIES ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1 second_deadlock_stack=1;${sd_test_cache_env}")
endif()
