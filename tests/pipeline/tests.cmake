# test_pipeline serves models from a loopback fake Hugging Face Hub (support/fake_hub.h),
# which needs cpp-httplib with the defines Debian built it with.
pkg_check_modules(SD_PIPELINE_TEST_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
target_link_libraries(test_pipeline PRIVATE PkgConfig::SD_PIPELINE_TEST_HTTPLIB)
