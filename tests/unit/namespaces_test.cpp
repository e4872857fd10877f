#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "src/namespaces.h"

using namespace herald;

namespace {
Config with_file(const std::string& json) {
  static int n = 0;
  Config c;
  c.history = 50;
  c.config_file = "/tmp/herald-ns-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".json";
  std::ofstream(c.config_file) << json;
  return c;
}
}  // namespace

TEST_CASE("namespace policy from the config file, defaults from the flags") {
  auto c = with_file(R"({"default":{"history_age":60},
                         "namespaces":{"user":{"private":true},"scores":{"history":5,"slow_consumer":"disconnect"}}})");
  auto ns = Namespaces::load(c);
  REQUIRE(ns.for_channel("user:42").is_private);
  REQUIRE(ns.for_channel("user:42").history == 50);
  REQUIRE(ns.for_channel("user:42").history_age_s == 60);
  REQUIRE(ns.for_channel("scores:m1").history == 5);
  REQUIRE(ns.for_channel("scores:m1").slow_consumer == SlowConsumerPolicy::Disconnect);
  REQUIRE_FALSE(ns.for_channel("plain").is_private);
  REQUIRE(ns.history_limits("scores:x").per_channel == 5);
  REQUIRE_FALSE(ns.conflates("scores:m1"));
  std::remove(c.config_file.c_str());
}

TEST_CASE("a bad config file names the field") {
  for (const auto& [json, needle] : std::vector<std::pair<std::string, std::string>>{
           {"{", "not a JSON object"},
           {R"({"namespaces":{"a":{"private":"yes"}}})", "namespaces.a.private"},
           // Found by fuzz_namespaces: seconds past 30 days overflowed the age in milliseconds.
           {R"({"default":{"history_age":9223372036854057878}})", "default.history_age: expected seconds"},
           {R"({"default":{"history_age":2592001}})", "up to 2592000"},
           {R"({"namespaces":{"a":{"histroy":3}}})", "unknown setting"},
           {R"({"namespaces":{"a b":{}}})", "not a namespace name"},
           {R"({"defaults":{}})", "unknown key"},
           {R"({"namespaces":{"a":{"slow_consumer":"drop"}}})", "slow_consumer"},
           {R"({"namespaces":{"a":{"slow_consumer":3}}})", "namespaces.a.slow_consumer: expected \"disconnect\" or \"latest\""},
       }) {
    auto c = with_file(json);
    INFO(json);
    try {
      (void)Namespaces::load(c);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      REQUIRE(std::string(e.what()).find(needle) != std::string::npos);
    }
    std::remove(c.config_file.c_str());
  }
}

TEST_CASE("slow_consumer latest conflates its namespace only") {
  auto c = with_file(R"({"namespaces":{"scores":{"slow_consumer":"latest"},"chat":{}}})");
  auto ns = Namespaces::load(c);
  REQUIRE(ns.for_channel("scores:m1").slow_consumer == SlowConsumerPolicy::Latest);
  REQUIRE(ns.conflates("scores:m1"));
  REQUIRE_FALSE(ns.conflates("scores"));  // no ':' : the default namespace
  REQUIRE_FALSE(ns.conflates("chat:room"));
  REQUIRE_FALSE(ns.conflates("other"));
  std::remove(c.config_file.c_str());
}
