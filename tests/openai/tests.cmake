# The OpenAI images API driven by the official openai SDK (openai_api_test.mjs) against
# sd-worker-cpu processes on the tiny fixture model; scripts/setup.sh installs node and
# (npm ci) the SDK.
find_program(NODE_EXECUTABLE node)
if(NOT NODE_EXECUTABLE)
  set(NODE_EXECUTABLE node)  # run anyway, so a machine without node fails instead of passing silently
endif()
add_test(NAME openai_api COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_LIST_DIR}/openai_api_test.mjs
         WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(openai_api PROPERTIES
  ENVIRONMENT "SD_WORKER_BIN=$<TARGET_FILE:sd-worker-cpu>;SD_SOURCE_DIR=${CMAKE_SOURCE_DIR};${sd_test_cache_env}"
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  PROCESSORS 2)
