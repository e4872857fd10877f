# Presence and live counts on one node over SSE, long-poll and WebSocket (real clients).
add_test(NAME presence
  COMMAND ${CMAKE_SOURCE_DIR}/tests/with_herald.sh $<TARGET_FILE:herald> --token-secret presence-secret
          --publish-key backend --config ${CMAKE_CURRENT_LIST_DIR}/presence_config.json --presence-linger 300 --
          /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/presence_test.py)
set_tests_properties(presence PROPERTIES TIMEOUT 120)
