# Several herald nodes on one private RabbitMQ (rabbitmq_fixture.sh): cluster-wide
# order, resume on any node, broker outages, a node killed or drained; and the cluster
# benchmark's tool, which uses the same clients. include()d by
# tests/CMakeLists.txt, which includes this file before integration_tests.cmake
# (alphabetical order), so the target is declared when the directory is done, once
# herald_integration_test() and herald_test_support exist.
set(HERALD_CLUSTER_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
function(herald_cluster_tests)
  herald_integration_test(herald_cluster_tests
    ${HERALD_CLUSTER_TEST_DIR}/cluster_test.cpp
    ${HERALD_CLUSTER_TEST_DIR}/cluster_drain_test.cpp)
  target_link_libraries(herald_cluster_tests PRIVATE herald_cluster_support herald_broker_rabbitmq)
  add_test(NAME cluster COMMAND herald_cluster_tests "~[drain]")
  set_tests_properties(cluster PROPERTIES LABELS rabbitmq TIMEOUT 400)
  # A node drained with SIGTERM under its clients; its own RabbitMQ, about 30 s.
  add_test(NAME cluster_drain COMMAND herald_cluster_tests "[drain]")
  set_tests_properties(cluster_drain PROPERTIES LABELS rabbitmq TIMEOUT 120)

  # The cluster benchmark (bench/cluster_bench.sh runs it); no test.
  add_executable(herald_cluster_bench ${HERALD_CLUSTER_TEST_DIR}/../../bench/cluster_bench.cpp)
  target_link_libraries(herald_cluster_bench PRIVATE herald_cluster_support)
endfunction()
cmake_language(DEFER CALL herald_cluster_tests)
