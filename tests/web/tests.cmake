# The web page in Debian's headless Chromium, driven by playwright-core (page_test.mjs),
# against sd-worker-cpu processes on the tiny fixture model. scripts/setup.sh installs
# node, chromium and (npm ci) playwright-core; the screenshots land in build/web-screenshots.
find_program(NODE_EXECUTABLE node)
if(NOT NODE_EXECUTABLE)
  set(NODE_EXECUTABLE node)  # run anyway, so a machine without node fails instead of passing silently
endif()
add_test(NAME web_page COMMAND ${NODE_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/page_test.mjs
         WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(web_page PROPERTIES
  ENVIRONMENT "SD_WORKER_BIN=$<TARGET_FILE:sd-worker-cpu>;SD_SOURCE_DIR=${CMAKE_SOURCE_DIR};SD_SCREENSHOT_DIR=${CMAKE_BINARY_DIR}/web-screenshots;${sd_test_cache_env}"
  SKIP_RETURN_CODE 77
  TIMEOUT 900
  PROCESSORS 2)

# The page's PNG-parameters reader on its own (no browser needed).
add_test(NAME web_png_params COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_LIST_DIR}/png_params_test.mjs
         WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
