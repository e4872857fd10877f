#include <catch2/catch.hpp>

#include "src/channel_name.h"
#include "src/cursor.h"

using namespace herald;

TEST_CASE("cursor round-trips through its wire form") {
  Cursor c{"mab12", 42};
  REQUIRE(c.str() == "mab12-42");
  auto parsed = parse_cursor("mab12-42");
  REQUIRE(parsed);
  REQUIRE(*parsed == c);
  REQUIRE(parse_cursor("s_1-18446744073709551615")->seq == 18446744073709551615ull);
}

TEST_CASE("malformed cursors are refused") {
  for (const char* bad : {"", "-", "abc", "abc-", "-12", "ab-1x", "ab-+1", "a b-1", "ab--1", "ab-18446744073709551616",
                          "é-1"}) {
    INFO(bad);
    REQUIRE_FALSE(parse_cursor(bad));
  }
}

TEST_CASE("channel names and namespaces") {
  REQUIRE(valid_channel("scores:match-1"));
  REQUIRE(valid_channel("a.b_c-D:9"));
  REQUIRE(valid_channel(std::string(128, 'x')));
  REQUIRE_FALSE(valid_channel(std::string(129, 'x')));
  REQUIRE_FALSE(valid_channel(""));
  REQUIRE_FALSE(valid_channel("a b"));
  REQUIRE_FALSE(valid_channel("a/b"));
  REQUIRE(channel_namespace("scores:match-1") == "scores");
  REQUIRE(channel_namespace("a:b:c") == "a");
  REQUIRE(channel_namespace("plain").empty());
}
