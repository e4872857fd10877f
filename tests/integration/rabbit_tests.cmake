# RabbitBroker against a real RabbitMQ (started by rabbitmq_fixture.sh); include()d by
# the tests' CMakeLists. Needs the herald_broker_rabbitmq target and Catch2 v2.
find_package(Catch2 2 REQUIRED)
add_executable(rabbit_broker_test
  ${CMAKE_CURRENT_LIST_DIR}/rabbit_broker_test.cpp
)
get_filename_component(HERALD_RABBIT_TEST_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
target_compile_definitions(rabbit_broker_test PRIVATE HERALD_SOURCE_DIR="${HERALD_RABBIT_TEST_ROOT}")
target_link_libraries(rabbit_broker_test PRIVATE herald_broker_rabbitmq herald_catch_main)
add_test(NAME rabbit_broker COMMAND rabbit_broker_test)
set_tests_properties(rabbit_broker PROPERTIES LABELS rabbitmq TIMEOUT 300)
