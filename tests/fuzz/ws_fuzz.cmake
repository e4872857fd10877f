# libFuzzer targets for the WebSocket codec: fuzz_ws_frames and fuzz_ws_handshake.
# Needs clang. The codec sources are compiled into each target (instead of linking
# herald_ws_codec) so they carry the fuzzer's coverage instrumentation and the
# sanitizers; herald_core must exist (the full tree or tests/fuzz/standalone).
# Run them with tests/fuzz/run_fuzz.sh.
include_guard(GLOBAL)

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "HERALD_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
endif()
if(NOT TARGET OpenSSL::Crypto)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
endif()

get_filename_component(HERALD_WS_FUZZ_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
set(HERALD_WS_CODEC_SOURCES
  ${HERALD_WS_FUZZ_ROOT}/transports/websocket/ws_codec.cpp
  ${HERALD_WS_FUZZ_ROOT}/transports/websocket/ws_utf8.cpp
  ${HERALD_WS_FUZZ_ROOT}/transports/websocket/ws_handshake.cpp)

foreach(target fuzz_ws_frames fuzz_ws_handshake)
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.cpp ${HERALD_WS_CODEC_SOURCES})
  target_include_directories(${target} PRIVATE ${HERALD_WS_FUZZ_ROOT})
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
                                           -fno-omit-frame-pointer -g)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${target} PRIVATE herald_core OpenSSL::Crypto)
endforeach()

# The HTTP request parser, cursors and channel names (client input of every transport).
add_executable(fuzz_http_request ${CMAKE_CURRENT_LIST_DIR}/fuzz_http_request.cpp
               ${HERALD_WS_FUZZ_ROOT}/transports/http/http_request.cpp ${HERALD_WS_FUZZ_ROOT}/src/channel_name.cpp)
target_include_directories(fuzz_http_request PRIVATE ${HERALD_WS_FUZZ_ROOT})
target_compile_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
                                                 -fno-omit-frame-pointer -g)
target_link_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_http_request PRIVATE herald_core)
