# test_pipeline serves models from a loopback fake Hugging Face Hub (support/fake_hub.h).
target_link_libraries(test_pipeline PRIVATE PkgConfig::HTTPLIB)
