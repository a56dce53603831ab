# AUTOMATIC1111's sdapi/v1 against the built sd-worker-cpu, with Python's `requests` (Debian's
# python3-requests, installed by scripts/setup.sh), as A1111's users script it. One CTest
# test per test class, each with a worker process of its own on the tiny fixture model.
find_package(Python3 COMPONENTS Interpreter)
set(sd_python3 python3)
if(Python3_EXECUTABLE)
  set(sd_python3 ${Python3_EXECUTABLE})
endif()
foreach(case Txt2Img Auth Listings Img2Img InpaintModel ProgressInterruptSkip Shutdown)
  add_test(NAME a1111.${case} COMMAND ${sd_python3} -m unittest -v a1111_api_test.${case}
           WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(a1111.${case} PROPERTIES
    ENVIRONMENT "SD_WORKER_BIN=$<TARGET_FILE:sd-worker-cpu>;SD_SOURCE_DIR=${CMAKE_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1;${sd_test_cache_env}"
    TIMEOUT 600)
endforeach()
