# Tests of the demo pages and of herald-bench (tests/pages/):
#   bench_smoke - a short herald-bench run on all three transports: nothing lost or
#                 duplicated, a CSV with one row per transport, an SVG that parses
#   pages       - /scores/ (fed by herald-scores) and /compare/ in headless Chromium
#                 through playwright-core (`npm install` in tests/) and /usr/bin/chromium
#                 (HERALD_CHROMIUM overrides it); screenshots go to <build>/tests/pages/
get_filename_component(_pages_source_dir ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
set(_pages_out ${CMAKE_CURRENT_BINARY_DIR}/pages)

# The simulator is a demo tool, not a test; its guard makes this a no-op when the
# top-level CMakeLists.txt has included it already.
include(${_pages_source_dir}/tools/scores/scores.cmake)

if(TARGET herald-bench)
  add_test(NAME bench_smoke
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_smoke.sh $<TARGET_FILE:herald> $<TARGET_FILE:herald-bench> ${_pages_out})
  set_tests_properties(bench_smoke PROPERTIES TIMEOUT 60 LABELS pages)
endif()

find_program(NODE_EXECUTABLE NAMES node nodejs)
if(NOT NODE_EXECUTABLE)
  message(STATUS "node not found: the pages test is not registered")
  return()
endif()
add_test(NAME pages
  COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_CURRENT_LIST_DIR}/scores.test.js ${CMAKE_CURRENT_LIST_DIR}/compare.test.js)
set_tests_properties(pages PROPERTIES TIMEOUT 120 LABELS pages
  ENVIRONMENT "HERALD_BINARY=$<TARGET_FILE:herald>;HERALD_SCORES_BINARY=$<TARGET_FILE:herald-scores>;HERALD_PAGES_OUT=${_pages_out}")
