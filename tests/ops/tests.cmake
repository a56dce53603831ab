# The op tests run a second time on the AVX2 baseline kernels (SD_CPU_ISA=avx2), so both
# instruction-set paths are checked on a machine that has AVX-512.
gtest_discover_tests(test_ops TEST_PREFIX "avx2." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "SD_CPU_ISA=avx2")
