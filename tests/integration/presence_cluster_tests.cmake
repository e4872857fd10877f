# Presence and live counts across two herald nodes on a real RabbitMQ, and
# acknowledged WebSocket publishes against it. Deferred like cluster_tests.cmake, so
# herald_integration_test() and the RabbitMQ broker target exist when it runs.
set(HERALD_PRESENCE_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
function(herald_presence_cluster_tests)
  herald_integration_test(herald_presence_cluster_tests
    ${HERALD_PRESENCE_TEST_DIR}/presence_cluster_test.cpp)
  target_include_directories(herald_presence_cluster_tests PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(herald_presence_cluster_tests PRIVATE herald_cluster_support herald_broker_rabbitmq herald_core)
  add_test(NAME presence_cluster COMMAND herald_presence_cluster_tests)
  set_tests_properties(presence_cluster PROPERTIES LABELS rabbitmq TIMEOUT 300)
endfunction()
cmake_language(DEFER CALL herald_presence_cluster_tests)
