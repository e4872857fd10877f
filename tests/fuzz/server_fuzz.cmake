# libFuzzer targets that run client input through an in-process node (fuzz_node.h):
# fuzz_ws_commands, fuzz_publish_body, fuzz_query; and the pure parsers of tokens and
# the namespace file: fuzz_token, fuzz_namespaces. Needs clang. Every source the node
# runs is compiled here, with the fuzzer's coverage and the sanitizers, into
# herald_fuzz_node (not the project's libraries, which carry neither); it needs no
# Pistache, only nlohmann-json and OpenSSL. Run them with tests/fuzz/run_fuzz.sh.
include_guard(GLOBAL)

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "HERALD_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
endif()
find_package(Threads REQUIRED)
find_package(nlohmann_json REQUIRED)
if(NOT TARGET OpenSSL::SSL)
  find_package(OpenSSL REQUIRED COMPONENTS SSL Crypto)
endif()

get_filename_component(HERALD_FUZZ_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
set(_r ${HERALD_FUZZ_ROOT})
add_library(herald_fuzz_node STATIC
  ${_r}/src/channel_name.cpp ${_r}/src/config.cpp ${_r}/src/cursor.cpp ${_r}/src/history.cpp ${_r}/src/hub.cpp
  ${_r}/src/local_subscriptions.cpp ${_r}/src/subscribe_request.cpp ${_r}/src/message.cpp ${_r}/src/metrics.cpp
  ${_r}/src/namespaces.cpp ${_r}/src/session.cpp ${_r}/src/conflation.cpp ${_r}/src/inspect_stats.cpp
  ${_r}/src/presence.cpp ${_r}/src/presence_table.cpp
  ${_r}/src/auth/access.cpp ${_r}/src/auth/jwt.cpp
  ${_r}/transports/http/conn.cpp ${_r}/transports/http/event_loop.cpp ${_r}/transports/http/http_request.cpp
  ${_r}/transports/http/http_response.cpp ${_r}/transports/http/request_auth.cpp
  ${_r}/transports/http/tls_stream.cpp
  ${_r}/transports/sse/sse_transport.cpp ${_r}/transports/longpoll/longpoll_transport.cpp
  ${_r}/transports/websocket/websocket_transport.cpp ${_r}/transports/websocket/ws_session.cpp
  ${_r}/transports/websocket/ws_codec.cpp ${_r}/transports/websocket/ws_utf8.cpp
  ${_r}/transports/websocket/ws_handshake.cpp
  ${_r}/broker/memory/broker_memory.cpp ${_r}/src/server/api_routes.cpp ${_r}/src/server/publish_api.cpp
  ${_r}/src/server/presence_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fuzz_node.cpp)
target_include_directories(herald_fuzz_node PUBLIC ${_r})
target_compile_features(herald_fuzz_node PUBLIC cxx_std_20)
target_compile_definitions(herald_fuzz_node PRIVATE HERALD_SOURCE_DIR="${_r}")
target_compile_options(herald_fuzz_node PUBLIC -fsanitize=fuzzer-no-link,address,undefined
                                               -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
target_link_libraries(herald_fuzz_node PUBLIC Threads::Threads nlohmann_json::nlohmann_json OpenSSL::SSL
                                              OpenSSL::Crypto)

foreach(target fuzz_ws_commands fuzz_publish_body fuzz_query fuzz_token fuzz_namespaces)
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.cpp)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${target} PRIVATE herald_fuzz_node)
endforeach()
