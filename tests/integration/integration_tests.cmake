add_library(herald_test_support STATIC ${CMAKE_CURRENT_LIST_DIR}/crowd.cpp)
target_link_libraries(herald_test_support PUBLIC nlohmann_json::nlohmann_json PkgConfig::HTTPLIB Threads::Threads)

# Node harness and clients of the cluster tests, the presence cluster tests and the
# cluster benchmark, compiled once for the three.
add_library(herald_cluster_support STATIC ${CMAKE_CURRENT_LIST_DIR}/cluster_support.cpp
                                          ${CMAKE_CURRENT_LIST_DIR}/cluster_publish.cpp)
target_include_directories(herald_cluster_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(herald_cluster_support PUBLIC herald_test_support)

function(herald_integration_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE herald_test_support herald_catch_main)
  target_compile_definitions(${name} PRIVATE HERALD_BINARY="$<TARGET_FILE:herald>"
                                             HERALD_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  add_dependencies(${name} herald)
endfunction()

herald_integration_test(herald_http_tests ${CMAKE_CURRENT_LIST_DIR}/http_transports_test.cpp)
add_test(NAME http_transports COMMAND herald_http_tests)
herald_integration_test(herald_scale_tests ${CMAKE_CURRENT_LIST_DIR}/scale_test.cpp)
add_test(NAME scale COMMAND herald_scale_tests)
set_tests_properties(scale PROPERTIES TIMEOUT 300)
herald_integration_test(herald_auth_tests ${CMAKE_CURRENT_LIST_DIR}/auth_integration_test.cpp)
target_link_libraries(herald_auth_tests PRIVATE herald_core)
add_test(NAME auth COMMAND herald_auth_tests)
