# Catch2's runner, compiled once for every test program: its main is the costliest
# object in the suite (about a minute each in a sanitizer build). Picked up by
# tests/CMakeLists.txt's glob, and included by ws_tests.cmake for projects that use
# that file alone.
include_guard(GLOBAL)
find_package(Catch2 REQUIRED)
add_library(herald_catch_main OBJECT ${CMAKE_CURRENT_LIST_DIR}/core_main.cpp)
target_link_libraries(herald_catch_main PUBLIC Catch2::Catch2)
