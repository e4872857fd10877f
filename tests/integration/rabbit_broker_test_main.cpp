// Catch2's main for the RabbitMQ integration test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
