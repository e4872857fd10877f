# The C++ client (clients/cpp) against the real herald binary: every transport,
# fallback, reconnect and resume, and herald-cli end to end.
# integration_tests.cmake defines herald_integration_test() but sorts after this file
# in the glob that includes both, so when the function is not there yet the set-up is
# deferred to the end of the tests directory.
if(TARGET herald_client)
  set(HERALD_CLIENT_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
  function(herald_add_client_tests)
    herald_integration_test(herald_client_tests ${HERALD_CLIENT_TEST_DIR}/client_test.cpp
                            ${HERALD_CLIENT_TEST_DIR}/client_conflation_test.cpp)
    target_include_directories(herald_client_tests PRIVATE ${HERALD_CLIENT_TEST_DIR})
    target_link_libraries(herald_client_tests PRIVATE herald_client herald_core)  # herald_core: sign_token
    target_compile_definitions(herald_client_tests PRIVATE HERALD_CLI="$<TARGET_FILE:herald-cli>")
    add_dependencies(herald_client_tests herald-cli)
    add_test(NAME cpp_client COMMAND herald_client_tests)
    set_tests_properties(cpp_client PROPERTIES TIMEOUT 120)
  endfunction()
  if(COMMAND herald_integration_test)
    herald_add_client_tests()
  else()
    cmake_language(DEFER CALL herald_add_client_tests)
  endif()
endif()
