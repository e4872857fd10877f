# Slow consumers against the real binary (raw sockets from Python): one subscriber that
# stops reading never delays 50 others, under "disconnect" and "latest"; long-poll's
# "latest" cap. See the docstring of slow_consumer_test.py.
add_test(NAME slow_consumers
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald>
          --config ${CMAKE_CURRENT_LIST_DIR}/slow_consumer_config.json --heartbeat 60000 --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/slow_consumer_test.py)
set_tests_properties(slow_consumers PROPERTIES TIMEOUT 180)

# A message queued for a reset connection never reaches the next connection that gets
# the same descriptor (checked through /proc/PID/fd), on every transport.
add_test(NAME fd_reuse
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald>
          --config ${CMAKE_CURRENT_LIST_DIR}/fd_reuse_config.json --max-body 8388608 --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/fd_reuse_test.py)
set_tests_properties(fd_reuse PROPERTIES TIMEOUT 180)

# herald.js over Node's `ws` with its thread stuck in a callback: the server conflates,
# the client reports the gap with its count and delivers the newest message.
find_program(NODE_EXECUTABLE node REQUIRED)
add_test(NAME js_conflation
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald>
          --config ${CMAKE_CURRENT_LIST_DIR}/slow_consumer_config.json --
          ${NODE_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/js_conflation.js)
set_tests_properties(js_conflation PROPERTIES TIMEOUT 90)
