# Extras for test_io: cpp-httplib for the loopback Hugging Face Hub server.
target_link_libraries(test_io PRIVATE PkgConfig::HTTPLIB)
