# The front-end tests run the built programs.
add_dependencies(test_apps sd-generate sd-bench sd-worker-cpu)
if(SD_HAVE_CUDA)
  add_dependencies(test_apps sd-worker-cuda)
  target_compile_definitions(test_apps PRIVATE SD_HAVE_CUDA_WORKER)
endif()
