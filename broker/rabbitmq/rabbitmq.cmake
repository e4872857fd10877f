# RabbitMQ broker for Herald; include()d by the broker layer's CMakeLists.
# Needs: find_package(rabbitmq-c CONFIG REQUIRED), spdlog, Threads and the herald_core
# target (src/message.cpp, src/cursor.cpp), all provided at the top level.
add_library(herald_broker_rabbitmq STATIC
  ${CMAKE_CURRENT_LIST_DIR}/amqp_connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/amqp_url.cpp
  ${CMAKE_CURRENT_LIST_DIR}/broker_rabbitmq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/broker_rabbitmq_node_state.cpp
  ${CMAKE_CURRENT_LIST_DIR}/publish_pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_log.cpp
)
target_include_directories(herald_broker_rabbitmq PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../..)
target_link_libraries(herald_broker_rabbitmq
  PUBLIC herald_core rabbitmq::rabbitmq spdlog::spdlog Threads::Threads)
