# Node-run tests of the JavaScript client:
#   js_client - clients/js/test/, the client's unit tests on fakes (no npm packages)
#   browser   - tests/browser/, herald.js in headless Chromium against the real
#               server, directly and behind nginx and Node proxies. Needs
#               /usr/bin/chromium, /usr/sbin/nginx and `npm install` in tests/
#               (playwright-core); HERALD_CHROMIUM / HERALD_NGINX override the paths.
find_program(NODE_EXECUTABLE NAMES node nodejs)
if(NOT NODE_EXECUTABLE)
  message(STATUS "node not found: the js_client and browser tests are not registered")
  return()
endif()

get_filename_component(_herald_source_dir ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)

# fakes.js holds the tests of the fakes themselves, hence every .js file.
file(GLOB _js_client_tests CONFIGURE_DEPENDS ${_herald_source_dir}/clients/js/test/*.js)
add_test(NAME js_client COMMAND ${NODE_EXECUTABLE} --test ${_js_client_tests})
set_tests_properties(js_client PROPERTIES TIMEOUT 60 LABELS js)

add_test(NAME browser COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_LIST_DIR}/browser.test.js)
set_tests_properties(browser PROPERTIES TIMEOUT 300 LABELS browser
  ENVIRONMENT "HERALD_BINARY=$<TARGET_FILE:herald>;HERALD_SOURCE_DIR=${_herald_source_dir}")
