# herald_client_unit_tests: the C++ client's pure logic (clients/cpp): cursor rules
# and client-side WebSocket framing, the latter checked against the server's parser.
if(TARGET herald_client)
  add_executable(herald_client_unit_tests
    ${CMAKE_CURRENT_LIST_DIR}/client_logic_test.cpp)
  target_link_libraries(herald_client_unit_tests PRIVATE herald_client herald_ws_codec herald_catch_main)
  add_test(NAME cpp_client_unit COMMAND herald_client_unit_tests)
endif()
