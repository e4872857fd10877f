// SSE, long-poll and the publish API against the real herald binary on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "herald_process.h"
#include "sse_reader.h"
#include "test_util.h"

using namespace herald::test;
using nlohmann::json;

TEST_CASE("a published message reaches an SSE stream in the envelope") {
  HeraldProcess h;
  SseReader sse(h.port(), "/sse?channel=scores:match-1");
  REQUIRE(sse.wait_events("subscribed", 1));
  REQUIRE(sse.status() == 200);
  REQUIRE(sse.header("Content-Type").rfind("text/event-stream", 0) == 0);
  REQUIRE(sse.header("Cache-Control").find("no-cache") != std::string::npos);
  REQUIRE(sse.header("X-Accel-Buffering") == "no");
  REQUIRE(sse.header("Access-Control-Allow-Origin") == "*");
  auto sub = json::parse(sse.events("subscribed")[0].data);
  REQUIRE(sub["channels"] == json::array({"scores:match-1"}));
  REQUIRE(sub["recovered"] == true);
  REQUIRE(sse.raw().find("retry: ") != std::string::npos);

  auto id = publish(h.port(), "scores:match-1", {{"home", 1}, {"away", 0}})["id"].get<std::string>();
  REQUIRE(sse.wait_events("message", 1));
  auto ev = sse.events("message")[0];
  REQUIRE(ev.id == id);
  auto env = json::parse(ev.data);
  REQUIRE(env["channel"] == "scores:match-1");
  REQUIRE(env["id"] == id);
  REQUIRE(env["data"] == json({{"home", 1}, {"away", 0}}));
  REQUIRE(env["ts"].is_number_integer());
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(std::abs(env["ts"].get<int64_t>() - now) < 10000);
}

TEST_CASE("a held long-poll answers with the next message") {
  HeraldProcess h;
  httplib::Client cli("127.0.0.1", h.port());
  auto first = cli.Get("/poll?channel=a&timeout=0");
  REQUIRE(first->status == 200);
  auto head = json::parse(first->body);
  REQUIRE(head["messages"].empty());
  std::thread pub([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    publish(h.port(), "a", "hello");
  });
  auto res = cli.Get("/poll?channel=a&since=" + head["cursor"].get<std::string>());
  pub.join();
  REQUIRE(res->status == 200);
  REQUIRE(res->get_header_value("Content-Type") == "application/json");
  auto body = json::parse(res->body);
  REQUIRE(body["messages"].size() == 1);
  REQUIRE(body["messages"][0]["data"] == "hello");
  REQUIRE(body["messages"][0]["channel"] == "a");
  REQUIRE(body["cursor"] == body["messages"][0]["id"]);
  REQUIRE(body["recovered"] == true);
}

TEST_CASE("a long-poll without since waits for the next message, and times out with a usable cursor") {
  HeraldProcess h;
  publish(h.port(), "a", 1);
  httplib::Client cli("127.0.0.1", h.port());
  auto t0 = std::chrono::steady_clock::now();
  auto res = cli.Get("/poll?channel=a&timeout=0.5");
  auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(waited >= std::chrono::milliseconds(450));
  auto body = json::parse(res->body);
  REQUIRE(body["messages"].empty());  // the old message is not "next"
  publish(h.port(), "a", 2);
  auto next = json::parse(cli.Get("/poll?channel=a&timeout=5&since=" + body["cursor"].get<std::string>())->body);
  REQUIRE(next["messages"].size() == 1);
  REQUIRE(next["messages"][0]["data"] == 2);
}

TEST_CASE("consecutive long-polls lose and repeat nothing while messages keep coming") {
  HeraldProcess h;
  httplib::Client cli("127.0.0.1", h.port());
  std::string cursor = json::parse(cli.Get("/poll?channel=c&timeout=0")->body)["cursor"];
  std::atomic<bool> done{false};
  std::vector<uint64_t> published;
  std::thread pub([&] {
    for (int i = 0; i < 300; ++i) published.push_back(seq_of(publish(h.port(), "c", i)["id"]));
    done = true;
  });
  std::vector<int> got;
  while (got.size() < 300) {
    auto res = cli.Get("/poll?channel=c&timeout=5&since=" + cursor);
    REQUIRE(res);
    auto body = json::parse(res->body);
    REQUIRE(body["recovered"] == true);
    for (auto& m : body["messages"]) got.push_back(m["data"].get<int>());
    cursor = body["cursor"];
  }
  pub.join();
  for (int i = 0; i < 300; ++i) REQUIRE(got[i] == i);
}

TEST_CASE("SSE resumes by Last-Event-ID and by since with no gap and no duplicate") {
  HeraldProcess h;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(publish(h.port(), "r", i)["id"]);
  for (int from = 0; from < 10; ++from) {
    INFO("resume after message " << from);
    const bool by_header = from % 2 == 0;
    httplib::Headers hdr;
    std::string target = "/sse?channel=r";
    if (by_header) {
      hdr.emplace("Last-Event-ID", ids[from]);
    } else {
      target += (from % 4 == 1 ? "&since=" : "&lastEventId=") + ids[from];
    }
    SseReader sse(h.port(), target, hdr);
    REQUIRE(sse.wait_events("subscribed", 1));
    REQUIRE(sse.wait_events("message", 9 - from));
    REQUIRE(json::parse(sse.events("subscribed")[0].data)["recovered"] == true);
    // A stream cut right after "subscribed" must resume before the replay, not after it.
    REQUIRE(sse.events("subscribed")[0].id == ids[from]);
    std::this_thread::sleep_for(std::chrono::milliseconds(from == 0 ? 200 : 0));
    auto got = sse.events("message");
    REQUIRE(got.size() == static_cast<size_t>(9 - from));
    for (size_t k = 0; k < got.size(); ++k) REQUIRE(got[k].id == ids[from + 1 + k]);
  }
}

TEST_CASE("a cursor older than history reports recovered=false") {
  HeraldProcess h({"--history", "5"});
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(publish(h.port(), "old", i)["id"]);
  SseReader sse(h.port(), "/sse?channel=old&since=" + ids[2]);
  REQUIRE(sse.wait_events("subscribed", 1));
  REQUIRE(json::parse(sse.events("subscribed")[0].data)["recovered"] == false);
  REQUIRE(sse.wait_events("message", 5));  // what history still holds comes anyway

  httplib::Client cli("127.0.0.1", h.port());
  auto poll = json::parse(cli.Get("/poll?channel=old&since=" + ids[2])->body);
  REQUIRE(poll["recovered"] == false);
  REQUIRE(poll["messages"].size() == 5);
  REQUIRE(poll["messages"][0]["id"] == ids[7]);
  // A cursor from a previous run of the server (another epoch) is never recovered.
  auto other = json::parse(cli.Get("/poll?channel=old&since=mzzzzzzzz-3")->body);
  REQUIRE(other["recovered"] == false);
  // Exactly at the edge of history nothing is missing.
  REQUIRE(json::parse(cli.Get("/poll?channel=old&since=" + ids[6])->body)["recovered"] == true);
}

TEST_CASE("several channels share one SSE stream in publish order") {
  HeraldProcess h;
  SseReader sse(h.port(), "/sse?channel=a&channel=b&channel=c");
  REQUIRE(sse.wait_events("subscribed", 1));
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(publish(h.port(), std::string(1, "abcd"[i % 4]), i)["id"]);
  REQUIRE(sse.wait_events("message", 23));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto got = sse.events("message");
  std::vector<std::string> expect;
  for (int i = 0; i < 30; ++i)
    if (i % 4 != 3) expect.push_back(ids[i]);
  REQUIRE(got.size() == expect.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].id == expect[i]);
}

TEST_CASE("JSONP long-poll wraps the answer in the callback") {
  HeraldProcess h;
  auto id = publish(h.port(), "j", {{"k", "v"}})["id"].get<std::string>();
  httplib::Client cli("127.0.0.1", h.port());
  auto res = cli.Get("/poll?channel=j&since=" + id.substr(0, id.rfind('-')) + "-0&callback=herald_cb_7");
  REQUIRE(res->status == 200);
  REQUIRE(res->get_header_value("Content-Type").rfind("application/javascript", 0) == 0);
  REQUIRE(res->body.rfind("herald_cb_7(", 0) == 0);
  REQUIRE(res->body.substr(res->body.size() - 2) == ");");
  auto inner = json::parse(res->body.substr(12, res->body.size() - 14));
  REQUIRE(inner["messages"][0]["data"]["k"] == "v");
  auto bad = cli.Get("/poll?channel=j&callback=alert(1)//");
  REQUIRE(bad->status == 400);
  REQUIRE(json::parse(bad->body)["error"]["code"] == "invalid_callback");
}

TEST_CASE("SSE padding and heartbeats keep a quiet stream open") {
  HeraldProcess h({"--heartbeat", "200"});
  SseReader sse(h.port(), "/sse?channel=quiet&padding=1");
  REQUIRE(sse.wait_events("subscribed", 1));
  REQUIRE(sse.raw().find(std::string(2048, ' ')) != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  REQUIRE(sse.comments() >= 9);  // padding line + one heartbeat per 200 ms
  REQUIRE_FALSE(sse.ended());
  publish(h.port(), "quiet", "still here");
  REQUIRE(sse.wait_events("message", 1));
}

TEST_CASE("every client error gets its status and a JSON reason") {
  HeraldProcess h({"--publish-key", "s3cret", "--max-body", "1000"});
  httplib::Client cli("127.0.0.1", h.port());
  httplib::Headers auth{{"Authorization", "Bearer s3cret"}};
  struct Case {
    std::string body;
    httplib::Headers headers;
    int status;
    std::string code;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"channel":"a","data":1})", {}, 401, "unauthorized"},
           {R"({"channel":"a","data":1})", {{"Authorization", "Bearer wrong!"}}, 401, "unauthorized"},
           {R"({"channel":"a","data":1})", {{"Authorization", "s3cret"}}, 401, "unauthorized"},
           {"{not json", auth, 400, "invalid_json"},
           {R"({"data":1})", auth, 400, "missing_channel"},
           {R"({"channel":"a b","data":1})", auth, 400, "invalid_channel"},
           {R"({"channel":"a"})", auth, 400, "missing_data"},
           {R"([])", auth, 400, "empty_batch"},
           {R"([1])", auth, 400, "invalid_message"},
           {R"({"channel":")" + std::string(129, 'x') + R"(","data":1})", auth, 400, "invalid_channel"},
       }) {
    INFO(c.body);
    auto res = cli.Post("/api/publish", c.headers, c.body, "application/json");
    REQUIRE(res);
    REQUIRE(res->status == c.status);
    REQUIRE(json::parse(res->body)["error"]["code"] == c.code);
    REQUIRE_FALSE(json::parse(res->body)["error"]["message"].get<std::string>().empty());
  }
  auto big = cli.Post("/api/publish", auth, R"({"channel":"a","data":")" + std::string(2000, 'x') + "\"}",
                      "application/json");
  REQUIRE(big->status == 413);
  REQUIRE(json::parse(big->body)["error"]["message"].get<std::string>().find("1000") != std::string::npos);

  httplib::Client cli2("127.0.0.1", h.port());
  auto ok = cli2.Post("/api/publish", auth, R"([{"channel":"a","data":1},{"channel":"b","data":[2]}])",
                      "application/json");
  REQUIRE(ok->status == 200);
  REQUIRE(json::parse(ok->body)["ids"].size() == 2);

  for (const auto& [target, code] : std::vector<std::pair<std::string, std::string>>{
           {"/sse", "missing_channel"},
           {"/sse?channel=bad%20name", "invalid_channel"},
           {"/sse?channel=a&since=garbage", "invalid_cursor"},
           {"/poll", "missing_channel"},
           {"/poll?channel=a&since=nope", "invalid_cursor"},
           {"/poll?channel=a&timeout=-1", "invalid_timeout"},
       }) {
    INFO(target);
    auto res = cli2.Get(target);
    REQUIRE(res->status == 400);
    REQUIRE(json::parse(res->body)["error"]["code"] == code);
  }
  REQUIRE(cli2.Get("/api/publish")->status == 405);
  REQUIRE(cli2.Get("/no/such/thing")->status == 404);
}

TEST_CASE("health, metrics and the static client are served") {
  HeraldProcess h;
  httplib::Client cli("127.0.0.1", h.port());
  auto health = cli.Get("/healthz");
  REQUIRE(health->status == 200);
  REQUIRE(json::parse(health->body)["broker"]["state"] == "up");
  publish(h.port(), "m", 1);
  auto metrics = cli.Get("/metrics");
  REQUIRE(metrics->status == 200);
  REQUIRE(metrics->body.find("herald_messages_published_total 1\n") != std::string::npos);
  REQUIRE(metrics->body.find("herald_connections{transport=\"sse\"} 0") != std::string::npos);
  REQUIRE(metrics->body.find("herald_history_messages 1\n") != std::string::npos);
  auto page = cli.Get("/");
  REQUIRE(page->status == 200);
  REQUIRE(page->get_header_value("Content-Type").rfind("text/html", 0) == 0);
  auto js = cli.Get("/herald.js");
  REQUIRE(js->status == 200);
  REQUIRE(js->body.find("Herald") != std::string::npos);
  auto pre = cli.Options("/api/publish");
  REQUIRE(pre->status == 204);
  REQUIRE(pre->get_header_value("Access-Control-Allow-Headers").find("Authorization") != std::string::npos);
}

namespace {
// Opens a raw WebSocket and returns the descriptor once the 101 has been read.
int open_raw_websocket(int port, const std::string& query) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string req = "GET /ws?" + query +
                          " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head.push_back(c);
  REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  return fd;
}

// Reads frames until a Close; returns its code (0 if the connection ended without one).
int read_until_close(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[4096];
  for (;;) {
    while (in.size() >= 2) {
      const auto* p = reinterpret_cast<const unsigned char*>(in.data());
      size_t len = p[1] & 0x7F, head = 2;
      if (len == 126) len = (size_t{p[2]} << 8) | p[3], head = 4;
      if (in.size() < head + len) break;
      if ((p[0] & 0x0F) == 0x8) return len >= 2 ? (p[head] << 8) | p[head + 1] : 1005;
      in.erase(0, head + len);
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    in.append(buf, static_cast<size_t>(n));
  }
}
}  // namespace

TEST_CASE("SIGTERM drains: every stream is told to reconnect, then the server exits") {
  HeraldProcess h;
  auto id = publish(h.port(), "d", 1)["id"].get<std::string>();
  SseReader sse(h.port(), "/sse?channel=d");
  REQUIRE(sse.wait_events("subscribed", 1));
  int ws = open_raw_websocket(h.port(), "channel=d");
  httplib::Client poller("127.0.0.1", h.port());
  poller.set_read_timeout(20, 0);
  int held_status = 0;
  std::string held_body;
  std::thread poll([&] {
    if (auto res = poller.Get("/poll?channel=d&timeout=15&since=" + id)) {
      held_status = res->status;
      held_body = res->body;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const auto t0 = std::chrono::steady_clock::now();
  ::kill(h.pid(), SIGTERM);
  REQUIRE(read_until_close(ws) == 1001);
  ::close(ws);
  poll.join();
  REQUIRE(held_status == 200);
  auto body = json::parse(held_body);
  REQUIRE(body["messages"].empty());
  REQUIRE(body["cursor"] == id);  // resume from here on another node
  REQUIRE(sse.wait([](const std::vector<SseEvent>&) { return false; }, 300) == false);
  REQUIRE(sse.raw().find("retry: 500") != std::string::npos);
  REQUIRE(h.stop() == 0);
  REQUIRE(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(6));
}
