add_executable(herald_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/cursor_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/history_test.cpp ${CMAKE_CURRENT_LIST_DIR}/session_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_request_test.cpp ${CMAKE_CURRENT_LIST_DIR}/outbox_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/auth_test.cpp ${CMAKE_CURRENT_LIST_DIR}/namespaces_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/inspect_stats_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/conflation_test.cpp ${CMAKE_CURRENT_LIST_DIR}/tls_stream_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/presence_table_test.cpp ${CMAKE_CURRENT_LIST_DIR}/presence_test.cpp)
target_link_libraries(herald_unit_tests PRIVATE herald_http herald_broker_memory herald_core herald_catch_main)
add_test(NAME unit COMMAND herald_unit_tests)
