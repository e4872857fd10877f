# herald_ws_codec: the RFC 6455 protocol logic of the WebSocket transport (frames,
# UTF-8, handshake), kept free of Pistache and sockets so unit tests and fuzzers link
# it alone. Included from transports/CMakeLists.txt; also usable on its own by any
# project that defines herald_core first (see tests/fuzz/standalone).
include_guard(GLOBAL)

if(NOT TARGET OpenSSL::Crypto)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
endif()

add_library(herald_ws_codec STATIC
  ${CMAKE_CURRENT_LIST_DIR}/ws_codec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_utf8.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ws_handshake.cpp)
# Sources include "transports/websocket/..." and "src/...": the repository root.
get_filename_component(HERALD_WS_CODEC_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
target_include_directories(herald_ws_codec PUBLIC ${HERALD_WS_CODEC_ROOT})
target_compile_features(herald_ws_codec PUBLIC cxx_std_20)
target_link_libraries(herald_ws_codec PUBLIC herald_core OpenSSL::Crypto)
