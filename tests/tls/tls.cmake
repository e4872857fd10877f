# https and wss on Herald's port (--tls-cert/--tls-key) with real clients: curl,
# python3-websockets and headless Chromium; see tests/tls/tls.test.js.
find_program(NODE_EXECUTABLE NAMES node nodejs)
if(NOT NODE_EXECUTABLE)
  message(STATUS "node not found: the tls test is not registered")
  return()
endif()
add_test(NAME tls COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_LIST_DIR}/tls.test.js)
set_tests_properties(tls PROPERTIES TIMEOUT 300 LABELS browser
  ENVIRONMENT "HERALD_BINARY=$<TARGET_FILE:herald>;HERALD_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
