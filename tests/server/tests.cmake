# End-to-end tests: the built sd-worker-cpu (and sd-generate, for the reference image) run as
# child processes and are driven over HTTP on loopback.
file(GLOB sd_server_e2e_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/e2e/*.cpp)
add_executable(test_server_e2e ${sd_server_e2e_srcs})
target_link_libraries(test_server_e2e PRIVATE sd_test_support GTest::gtest_main sd_server)
target_include_directories(test_server_e2e PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_dependencies(test_server_e2e sd-worker-cpu sd-generate)
gtest_discover_tests(test_server_e2e DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60)
