# The op tests run a second time on the AVX2 baseline kernels (SD_CPU_ISA=avx2), so both
# instruction-set paths are checked on a machine that has AVX-512.
gtest_discover_tests(test_ops TEST_PREFIX "avx2." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
  PROPERTIES ENVIRONMENT "SD_CPU_ISA=avx2")
# The attention tests run a third time on the AVX-512 kernels without AMX, so a CPU with
# tile units checks both bf16 attention paths.
gtest_discover_tests(test_ops TEST_PREFIX "avx512." TEST_FILTER "*Attention*" DISCOVERY_MODE PRE_TEST
  DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "SD_CPU_ISA=avx512")
