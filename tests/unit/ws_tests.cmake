# herald_ws_unit_tests: unit tests of the WebSocket protocol logic (herald_ws_codec).
# Included from tests/CMakeLists.txt after transports/websocket/codec.cmake, or from
# any scratch project that defines herald_ws_codec first.
include_guard(GLOBAL)

include(${CMAKE_CURRENT_LIST_DIR}/catch_main.cmake)

add_executable(herald_ws_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/ws_codec_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_utf8_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_handshake_test.cpp)
target_link_libraries(herald_ws_unit_tests PRIVATE herald_ws_codec herald_catch_main)
add_test(NAME ws_unit COMMAND herald_ws_unit_tests)
