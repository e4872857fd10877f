// Catch2 main for the WebSocket codec unit tests (herald_ws_unit_tests), kept apart
// from the test files so editing a test does not recompile Catch2's runner.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
