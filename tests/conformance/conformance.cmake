find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME ws_conformance
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --ws-max-message 65536 --
          ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/ws_conformance.py)
set_tests_properties(ws_conformance PROPERTIES ENVIRONMENT "HERALD_WS_MAX_MESSAGE=65536" TIMEOUT 180)
