// Tokens and namespace policy against the real herald binary.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "herald_process.h"
#include "src/auth/jwt.h"
#include "sse_reader.h"
#include "test_util.h"

using namespace herald::test;
using nlohmann::json;

namespace {
const std::string kSecret = "test-secret";

std::string token(const json& claims) { return herald::sign_token(claims.dump(), kSecret); }

int64_t now_s() { return std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string config_file() {
  const std::string path = "/tmp/herald-auth-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"namespaces":{"user":{"private":true},"chat":{"client_publish":true}}})";
  return path;
}
}  // namespace

TEST_CASE("private channels need a token over SSE, long-poll and the WebSocket handshake") {
  HeraldProcess h({"--token-secret", kSecret, "--config", config_file(), "--publish-key", "pk"});
  httplib::Client cli("127.0.0.1", h.port());
  const auto mine = token({{"sub", "u42"}, {"channels", {"user:42"}}, {"exp", now_s() + 600}});

  for (const std::string path : {"/sse", "/poll"}) {
    INFO(path);
    auto none = cli.Get(path + "?channel=user:42&timeout=0");
    REQUIRE(none->status == 401);
    REQUIRE(json::parse(none->body)["error"]["code"] == "token_required");
    auto other = cli.Get(path + "?channel=user:43&timeout=0&token=" + mine);
    REQUIRE(other->status == 403);
    auto forged = cli.Get(path + "?channel=user:42&timeout=0&token=" + mine + "x");
    REQUIRE(forged->status == 401);
    REQUIRE(json::parse(forged->body)["error"]["code"] == "invalid_token");
    auto expired = cli.Get(path + "?channel=user:42&timeout=0&token=" +
                           token({{"channels", {"user:42"}}, {"exp", now_s() - 1}}));
    REQUIRE(expired->status == 401);
    REQUIRE(json::parse(expired->body)["error"]["code"] == "token_expired");
  }
  auto poll = cli.Get("/poll?channel=user:42&timeout=0", {{"Authorization", "Bearer " + mine}});
  REQUIRE(poll->status == 200);

  SseReader sse(h.port(), "/sse?channel=user:42&channel=public&token=" + mine);
  REQUIRE(sse.wait_events("subscribed", 1));
  publish(h.port(), "user:42", "for you", "pk");
  REQUIRE(sse.wait_events("message", 1));

  auto ws = cli.Get("/ws?channel=user:42", {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                                            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                            {"Sec-WebSocket-Version", "13"}});
  REQUIRE(ws->status == 401);
}

TEST_CASE("the publish API takes the publish key or a token with publish rights") {
  HeraldProcess h({"--token-secret", kSecret, "--publish-key", "pk"});
  httplib::Client cli("127.0.0.1", h.port());
  const std::string body = R"({"channel":"news:1","data":1})";
  auto with = [&](const std::string& bearer) {
    return cli.Post("/api/publish", {{"Authorization", "Bearer " + bearer}}, body, "application/json")->status;
  };
  REQUIRE(with("pk") == 200);
  REQUIRE(with(token({{"publish", {"news:*"}}})) == 200);
  REQUIRE(with(token({{"publish", {"sport:*"}}})) == 403);
  REQUIRE(with(token({{"publish", {"news:*"}}, {"exp", now_s() - 5}})) == 401);
  REQUIRE(with("nope") == 401);
  REQUIRE(cli.Post("/api/publish", body, "application/json")->status == 401);
}

TEST_CASE("an expired token ends the SSE stream with a clear reason") {
  HeraldProcess h({"--token-secret", kSecret, "--config", config_file()});
  const auto brief = token({{"channels", {"user:*"}}, {"exp", now_s() + 2}});
  SseReader sse(h.port(), "/sse?channel=user:7&token=" + brief);
  REQUIRE(sse.wait_events("subscribed", 1));
  REQUIRE(sse.wait_events("error", 1, 5000));
  REQUIRE(json::parse(sse.events("error")[0].data)["code"] == "token_expired");
  REQUIRE(sse.wait([&](const std::vector<SseEvent>&) { return false; }, 300) == false);
  for (int i = 0; i < 50 && !sse.ended(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(sse.ended());
}
