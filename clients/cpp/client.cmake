# The C++ client library (herald_client) and the command-line client (herald-cli).
# Included by clients/cpp/CMakeLists.txt; needs the top level's Threads, cpp-httplib
# (PkgConfig::HTTPLIB) and nlohmann_json, and the herald_ws_codec target, whose
# frame encoders, UTF-8 validator and accept-key computation the WebSocket
# transport reuses (it brings herald_core for the cursor and channel-name rules).
add_library(herald_client STATIC
  ${CMAKE_CURRENT_LIST_DIR}/base_url.cpp
  ${CMAKE_CURRENT_LIST_DIR}/client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/client_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cursor_book.cpp
  ${CMAKE_CURRENT_LIST_DIR}/poll_client_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/publisher.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sse_client_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_client_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_frame_reader.cpp)
get_filename_component(HERALD_CLIENT_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
target_include_directories(herald_client PUBLIC ${HERALD_CLIENT_ROOT})
target_compile_features(herald_client PUBLIC cxx_std_20)
target_link_libraries(herald_client
  PUBLIC nlohmann_json::nlohmann_json Threads::Threads
  PRIVATE herald_ws_codec PkgConfig::HTTPLIB)

add_executable(herald-cli ${CMAKE_CURRENT_LIST_DIR}/herald_cli.cpp)
target_link_libraries(herald-cli PRIVATE herald_client nlohmann_json::nlohmann_json Threads::Threads)
