# Without the third-party data a test skips on a developer's machine and fails in CI
# (CI=true): one data-needing test run both ways against a folder that does not exist.
add_test(NAME MissingTestData.SkipsOnADevelopersMachine COMMAND test_text --gtest_filter=ClipTokenizer.PublishedVectorsExact)
set_tests_properties(MissingTestData.SkipsOnADevelopersMachine PROPERTIES
  ENVIRONMENT "CI=;SD_TEST_DATA=${CMAKE_BINARY_DIR}/no-test-data"
  PASS_REGULAR_EXPRESSION "SKIPPED \\] ClipTokenizer.PublishedVectorsExact")
add_test(NAME MissingTestData.FailsInCi COMMAND test_text --gtest_filter=ClipTokenizer.PublishedVectorsExact)
set_tests_properties(MissingTestData.FailsInCi PROPERTIES
  ENVIRONMENT "CI=true;SD_TEST_DATA=${CMAKE_BINARY_DIR}/no-test-data"
  PASS_REGULAR_EXPRESSION "CI=true forbids skipping")
