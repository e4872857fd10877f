# herald-scores: the football score simulator that feeds the /scores/ demo page.
# Included from the top-level CMakeLists.txt (and from tests/pages/pages_tests.cmake,
# which needs the binary); the guard makes a second include a no-op.
include_guard(GLOBAL)

add_executable(herald-scores
  ${CMAKE_CURRENT_LIST_DIR}/scores_main.cpp
  ${CMAKE_CURRENT_LIST_DIR}/match_sim.cpp)
target_include_directories(herald-scores PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(herald-scores PRIVATE PkgConfig::HTTPLIB nlohmann_json::nlohmann_json Threads::Threads)
