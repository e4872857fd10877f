# The inspector page (/inspect/) in headless Chromium against real WebSocket, SSE and
# long-poll clients (tests/pages/inspect.test.js). Its screenshot goes to
# <build>/tests/pages/inspector.png; HERALD_UPDATE_DOCS=1 also copies it to
# docs/inspector.png.
find_program(HERALD_INSPECTOR_NODE NAMES node nodejs)
if(NOT HERALD_INSPECTOR_NODE)
  message(STATUS "node not found: the inspector test is not registered")
  return()
endif()
add_test(NAME inspector COMMAND ${HERALD_INSPECTOR_NODE} --test ${CMAKE_CURRENT_LIST_DIR}/inspect.test.js)
set_tests_properties(inspector PROPERTIES TIMEOUT 120 LABELS pages
  ENVIRONMENT "HERALD_BINARY=$<TARGET_FILE:herald>;HERALD_PAGES_OUT=${CMAKE_CURRENT_BINARY_DIR}/pages")
