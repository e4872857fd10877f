# Real third-party WebSocket clients: Debian's python3-websockets and npm's ws.
find_program(NODE_EXECUTABLE node REQUIRED)
add_test(NAME ws_interop_python
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/ws_python_interop.py)
add_test(NAME ws_interop_node
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --
          ${NODE_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/ws_node_interop.js)
set_tests_properties(ws_interop_python ws_interop_node PROPERTIES TIMEOUT 120)
add_test(NAME ws_limits
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --client-publish chat
          --client-publish-rate 5 --max-connections-per-ip 4 --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/ws_limits.py)
set_tests_properties(ws_limits PROPERTIES TIMEOUT 60)
add_test(NAME ws_liveness
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --heartbeat 300 --ws-pong-timeout 700 --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/ws_liveness.py)
set_tests_properties(ws_liveness PROPERTIES TIMEOUT 60)
