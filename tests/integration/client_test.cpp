// The C++ client library and herald-cli against the real herald binary on loopback:
// every transport, resume and gaps, reconnect with backoff across server restarts on
// the same port, several channels on one connection, publish, and the CLI.
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "clients/cpp/herald_client.h"
#include "herald_process.h"
#include "src/auth/jwt.h"
#include "upgrade_proxy.h"

#ifndef HERALD_CLI
#error "HERALD_CLI must name the herald-cli executable"
#endif

using namespace std::chrono_literals;
using herald::client::Client;
using herald::client::Envelope;
using herald::client::Options;
using herald::client::Transport;
using herald::test::HeraldProcess;
using herald::test::UpgradeProxy;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
const std::vector<Transport> kAll{Transport::WebSocket, Transport::Sse, Transport::LongPoll};

// Everything a client reported.
struct Reports {
  std::vector<Envelope> messages;
  std::vector<herald::client::Gap> gaps;
  std::vector<Transport> transports;
  std::vector<Clock::time_point> connected_at;
  std::vector<herald::client::Error> errors;
  std::vector<Clock::time_point> rounds_failed_at;
};

// Reports filled on the client's thread, for the test thread to wait on (predicates
// run under the lock) and inspect through seen(), a copy taken under the lock: the
// client may still be reporting (retries after a refusal add errors).
struct Recorder : Reports {
  // Recursive: wait() predicates call of()/count(), which lock again.
  std::recursive_mutex mu;
  std::condition_variable_any cv;

  Reports seen() {
    std::lock_guard lock(mu);
    return static_cast<const Reports&>(*this);
  }

  void attach(Client& c) {
    c.on_message([this](const Envelope& e) { add([&] { messages.push_back(e); }); });
    c.on_gap([this](const herald::client::Gap& g) { add([&] { gaps.push_back(g); }); });
    c.on_transport([this](Transport t) {
      add([&] {
        transports.push_back(t);
        connected_at.push_back(Clock::now());
      });
    });
    c.on_error([this](const herald::client::Error& e) {
      add([&] {
        errors.push_back(e);
        if (e.code == "round_failed") rounds_failed_at.push_back(Clock::now());
      });
    });
  }
  template <typename Fn>
  void add(Fn&& fn) {
    std::lock_guard lock(mu);
    fn();
    cv.notify_all();
  }
  template <typename Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
  std::vector<Envelope> of(const std::string& channel) {
    std::lock_guard lock(mu);
    std::vector<Envelope> out;
    for (const auto& m : messages)
      if (m.channel == channel) out.push_back(m);
    return out;
  }
  size_t count(const std::string& channel) { return of(channel).size(); }
};

Options fast_options(const std::string& url, std::vector<Transport> transports = kAll) {
  Options o;
  o.base_url = url;
  o.transports = std::move(transports);
  o.backoff = {50ms, 400ms};
  o.probe_timeout = 2s;
  o.poll_timeout = 5s;
  return o;
}

// Waits until the client's subscription to `channel` is in place on the server
// (its cursor is set by the "subscribed" notice or the first poll answer), so a
// message published afterwards must reach it.
bool wait_subscribed(Client& c, const std::string& channel, std::chrono::milliseconds timeout = 10s) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (c.cursor(channel)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::vector<std::string> publish_numbers(Client& pub, const std::string& channel, int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) {
    auto id = pub.publish(channel, json{{"n", i}});
    REQUIRE(id.ok());
    ids.push_back(*id);
  }
  return ids;
}

std::vector<std::string> ids_of(const std::vector<Envelope>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

std::string epoch_of(const std::string& cursor) { return cursor.substr(0, cursor.rfind('-')); }

// One value of the server's /metrics, or -1 when absent.
int metric(const HeraldProcess& h, const std::string& name) {
  httplib::Client http("127.0.0.1", h.port());
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const std::string text = "\n" + res->body;
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stoi(text.substr(at + name.size() + 2));
}

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs a command line (bounded by `timeout_s`), capturing stdout and stderr apart.
Run run(const std::string& command, int timeout_s = 15) {
  char err_path[] = "/tmp/herald_cli_err_XXXXXX";
  const int fd = ::mkstemp(err_path);
  if (fd >= 0) ::close(fd);
  const std::string full = "timeout " + std::to_string(timeout_s) + " " + command + " 2>" + err_path;
  Run r;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;  // no REQUIRE here: run() is also called off the test's thread
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  ::unlink(err_path);
  return r;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::string cli() { return HERALD_CLI; }

}  // namespace

TEST_CASE("each transport delivers a published sequence in order, each message once") {
  HeraldProcess h;
  Client pub(fast_options(h.url()));
  for (Transport t : kAll) {
    const std::string channel = "seq:" + std::string(herald::client::transport_name(t));
    CAPTURE(channel);
    Recorder rec;
    Client c(fast_options(h.url(), {t}));
    rec.attach(c);
    c.subscribe(channel);
    c.start();
    REQUIRE(wait_subscribed(c, channel));
    REQUIRE(c.transport() == t);
    const auto ids = publish_numbers(pub, channel, 0, 25);
    REQUIRE(rec.wait([&] { return rec.messages.size() >= 25; }));
    std::this_thread::sleep_for(200ms);  // room for a duplicate to show up
    const auto got = rec.of(channel);
    REQUIRE(ids_of(got) == ids);
    for (int i = 0; i < 25; ++i) CHECK(got[i].data == json{{"n", i}});
    CHECK(got[0].ts > 0);
    CHECK(rec.seen().gaps.empty());
    CHECK(rec.seen().transports == std::vector<Transport>{t});
    c.stop();
  }
}

TEST_CASE("a slow callback holds the connection back without losing or reordering messages") {
  HeraldProcess h;
  Client pub(fast_options(h.url()));
  for (Transport t : {Transport::WebSocket, Transport::Sse}) {
    CAPTURE(herald::client::transport_name(t));
    const std::string channel = "slow:" + std::string(herald::client::transport_name(t));
    std::vector<std::string> got;
    std::mutex mu;
    auto o = fast_options(h.url(), {t});
    o.event_queue_limit = 2;  // the I/O thread waits for the callbacks almost at once
    Client c(o);
    c.on_message([&](const Envelope& e) {
      std::this_thread::sleep_for(1ms);
      std::lock_guard lock(mu);
      got.push_back(e.id);
    });
    c.subscribe(channel);
    c.start();
    REQUIRE(wait_subscribed(c, channel));
    std::vector<herald::client::PublishItem> batch(200, {channel, json("x")});
    auto ids = pub.publish(batch);
    REQUIRE(ids.ok());
    const auto end = Clock::now() + 10s;
    while (Clock::now() < end) {
      std::lock_guard lock(mu);
      if (got.size() >= 200) break;
    }
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mu);
    CHECK(got == *ids);
  }
}

TEST_CASE("stop() from a callback ends delivery") {
  HeraldProcess h;
  Client pub(fast_options(h.url()));
  std::atomic<int> calls{0};
  {
    Client c(fast_options(h.url()));
    c.on_message([&](const Envelope&) {
      calls++;
      c.stop();
    });
    c.subscribe("stopper");
    c.start();
    REQUIRE(wait_subscribed(c, "stopper"));
    auto ids = pub.publish(std::vector<herald::client::PublishItem>(5, {"stopper", json(1)}));
    REQUIRE(ids.ok());
    const auto end = Clock::now() + 5s;
    while (calls == 0 && Clock::now() < end) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);
    c.stop();  // from this thread: joins the thread that already ended
  }
  CHECK(calls == 1);
}

TEST_CASE("auto picks websocket first") {
  HeraldProcess h;
  Recorder rec;
  Client c(Options{.base_url = h.url()});  // the default transport order
  rec.attach(c);
  c.subscribe("auto:1");
  c.start();
  REQUIRE(rec.wait([&] { return !rec.transports.empty(); }));
  CHECK(rec.seen().transports.front() == Transport::WebSocket);
  CHECK(c.transport() == Transport::WebSocket);
}

TEST_CASE("WebSocket refused by a proxy: fall back to SSE, fail back once it passes") {
  HeraldProcess h;
  UpgradeProxy proxy(h.port(), UpgradeProxy::Mode::Refuse);
  Recorder rec;
  auto o = fast_options(proxy.url());
  o.failback_interval = 300ms;
  Client c(o);
  rec.attach(c);
  c.subscribe("fb");
  c.start();
  REQUIRE(rec.wait([&] { return !rec.transports.empty(); }));
  CHECK(rec.seen().transports.front() == Transport::Sse);
  {
    std::lock_guard lock(rec.mu);
    REQUIRE_FALSE(rec.seen().errors.empty());
    CHECK(rec.seen().errors.front().code == "http_403");
    CHECK(rec.seen().errors.front().transport == Transport::WebSocket);
  }
  REQUIRE(wait_subscribed(c, "fb"));
  Client pub(fast_options(h.url()));
  auto ids = publish_numbers(pub, "fb", 0, 3);
  REQUIRE(rec.wait([&] { return rec.count("fb") >= 3; }));

  // The better transport is retried in the background and takes over.
  proxy.set_mode(UpgradeProxy::Mode::Pass);
  REQUIRE(rec.wait([&] { return rec.transports.size() >= 2; }, 5s));
  CHECK(rec.seen().transports[1] == Transport::WebSocket);
  CHECK(c.transport() == Transport::WebSocket);
  const auto more = publish_numbers(pub, "fb", 3, 6);
  ids.insert(ids.end(), more.begin(), more.end());
  REQUIRE(rec.wait([&] { return rec.count("fb") >= 6; }));
  std::this_thread::sleep_for(150ms);
  CHECK(ids_of(rec.of("fb")) == ids);
  CHECK(rec.seen().gaps.empty());
}

TEST_CASE("a WebSocket that never answers is given up after the probe timeout") {
  HeraldProcess h;
  UpgradeProxy proxy(h.port(), UpgradeProxy::Mode::Silent);
  Recorder rec;
  auto o = fast_options(proxy.url(), {Transport::WebSocket, Transport::LongPoll});
  o.probe_timeout = 500ms;
  Client c(o);
  rec.attach(c);
  c.subscribe("silent");
  const auto started = Clock::now();
  c.start();
  REQUIRE(rec.wait([&] { return !rec.transports.empty(); }));
  const auto took = Clock::now() - started;
  CHECK(rec.seen().transports.front() == Transport::LongPoll);
  CHECK(took >= 450ms);
  CHECK(took < 3s);
  std::lock_guard lock(rec.mu);
  REQUIRE_FALSE(rec.seen().errors.empty());
  // The client's probe timer and the transport's own handshake deadline expire
  // together; either may report first.
  const auto code = rec.seen().errors.front().code;
  CHECK((code == "probe_timeout" || code == "handshake_failed"));
  CHECK(rec.seen().errors.front().transport == Transport::WebSocket);
}

TEST_CASE("resuming from a cursor replays what was missed; an unknown epoch is a gap") {
  HeraldProcess h;
  Client pub(fast_options(h.url()));
  const auto ids = publish_numbers(pub, "resume", 0, 5);
  for (Transport t : kAll) {
    CAPTURE(herald::client::transport_name(t));
    const std::string other = "other:" + std::string(herald::client::transport_name(t));
    Recorder rec;
    Client c(fast_options(h.url(), {t}));
    rec.attach(c);
    c.subscribe("resume", ids[1]);
    c.subscribe(other, "zzzzzzzz-3");  // a cursor from a log this server never had
    c.start();
    REQUIRE(rec.wait([&] { return rec.messages.size() >= 3 && !rec.gaps.empty(); }));
    std::this_thread::sleep_for(150ms);
    CHECK(ids_of(rec.of("resume")) == std::vector<std::string>(ids.begin() + 2, ids.end()));
    REQUIRE(rec.seen().gaps.size() == 1);
    CHECK(rec.seen().gaps[0].channel == other);
    CHECK(rec.seen().gaps[0].last_cursor == "zzzzzzzz-3");
    CHECK(epoch_of(rec.seen().gaps[0].cursor) == epoch_of(ids[0]));
    // Both channels go on live after the replay and the gap.
    REQUIRE(wait_subscribed(c, other));
    const auto live = publish_numbers(pub, other, 100, 102);
    REQUIRE(rec.wait([&] { return rec.count(other) >= 2; }));
    CHECK(ids_of(rec.of(other)) == live);
  }
}

TEST_CASE("several channels share one connection; channels can be added on the fly") {
  HeraldProcess h;
  Client pub(fast_options(h.url()));
  for (Transport t : {Transport::WebSocket, Transport::Sse}) {
    const std::string tn(herald::client::transport_name(t));
    CAPTURE(tn);
    Recorder rec;
    Client c(fast_options(h.url(), {t}));
    rec.attach(c);
    const std::vector<std::string> channels{tn + ":a", tn + ":b", tn + ":c"};
    for (const auto& ch : channels) c.subscribe(ch);
    c.start();
    for (const auto& ch : channels) REQUIRE(wait_subscribed(c, ch));
    std::vector<herald::client::PublishItem> batch;
    for (int i = 0; i < 30; ++i) batch.push_back({channels[i % 3], json{{"n", i}}});
    auto ids = pub.publish(batch);
    REQUIRE(ids.ok());
    REQUIRE(ids->size() == 30);
    REQUIRE(rec.wait([&] { return rec.messages.size() >= 30; }));
    for (size_t k = 0; k < 3; ++k) {
      std::vector<std::string> expected;
      for (size_t i = k; i < 30; i += 3) expected.push_back((*ids)[i]);
      CHECK(ids_of(rec.of(channels[k])) == expected);
    }
    const std::string gauge = "herald_connections{transport=\"" + tn + "\"}";
    CHECK(metric(h, gauge) == 1);

    // A channel added while connected: WebSocket subscribes on the open connection,
    // SSE opens a replacement stream; either way nothing is lost or repeated.
    const std::string late = tn + ":late";
    c.subscribe(late);
    REQUIRE(wait_subscribed(c, late));
    const auto late_ids = publish_numbers(pub, late, 0, 5);
    const auto more_a = publish_numbers(pub, channels[0], 10, 15);
    REQUIRE(rec.wait([&] { return rec.count(late) >= 5 && rec.count(channels[0]) >= 15; }));
    std::this_thread::sleep_for(200ms);
    CHECK(ids_of(rec.of(late)) == late_ids);
    const auto a = ids_of(rec.of(channels[0]));
    REQUIRE(a.size() == 15);
    CHECK(std::vector<std::string>(a.begin() + 10, a.end()) == more_a);
    CHECK(rec.seen().transports.size() == 1);  // a replacement is not a reconnection
    REQUIRE(rec.wait([&] { return metric(h, gauge) == 1; }, 3s));

    c.unsubscribe(channels[1]);
    std::this_thread::sleep_for(300ms);
    const size_t before = rec.count(channels[1]);
    publish_numbers(pub, channels[1], 50, 52);
    publish_numbers(pub, channels[2], 50, 52);
    REQUIRE(rec.wait([&] { return rec.count(channels[2]) >= 12; }));
    CHECK(rec.count(channels[1]) == before);
  }
}

TEST_CASE("publish returns cursors and reports refusals") {
  HeraldProcess h({"--publish-key", "s3cret"});
  auto o = fast_options(h.url());
  o.publish_key = "s3cret";
  Client pub(o);
  auto first = pub.publish("p", json{{"x", 1}});
  REQUIRE(first.ok());
  auto second = pub.publish("p", "text");
  REQUIRE(second.ok());
  CHECK(epoch_of(*first) == epoch_of(*second));
  CHECK(std::stoull(second->substr(second->rfind('-') + 1)) > std::stoull(first->substr(first->rfind('-') + 1)));
  auto batch = pub.publish(std::vector<herald::client::PublishItem>{{"p", 1}, {"q", 2}, {"p", 3}});
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 3);

  Client no_key(fast_options(h.url()));
  auto refused = no_key.publish("p", 1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "unauthorized");
  CHECK(refused.error().message.find("Bearer") != std::string::npos);

  auto bad = pub.publish("bad channel!", 1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "invalid_channel");

  Client nowhere(fast_options("http://127.0.0.1:1"));
  auto down = nowhere.publish("p", 1);
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == "connect_failed");

  CHECK_THROWS_AS(Client(fast_options("ftp://x")), std::invalid_argument);
  CHECK_THROWS_AS(pub.subscribe("no spaces"), std::invalid_argument);
  CHECK_THROWS_AS(pub.subscribe("ok", "not-a-cursor!"), std::invalid_argument);
}

TEST_CASE("a token opens private channels on every transport") {
  const std::string secret = "client-test-secret";
  const std::string config = "/tmp/herald-client-test-" + std::to_string(::getpid()) + ".json";
  std::ofstream(config) << R"({"namespaces":{"user":{"private":true}}})";
  HeraldProcess h({"--token-secret", secret, "--config", config});
  ::unlink(config.c_str());
  const auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string token =
      herald::sign_token(json{{"sub", "u7"}, {"channels", {"user:7"}}, {"exp", now_s + 600}}.dump(), secret);
  Client pub(fast_options(h.url()));
  for (Transport t : kAll) {
    CAPTURE(herald::client::transport_name(t));
    Recorder rec;
    auto o = fast_options(h.url(), {t});
    o.token = token;
    Client c(o);
    rec.attach(c);
    c.subscribe("user:7");
    c.start();
    REQUIRE(wait_subscribed(c, "user:7"));
    const auto ids = publish_numbers(pub, "user:7", 0, 2);
    REQUIRE(rec.wait([&] { return rec.count("user:7") >= 2; }));
    CHECK(ids_of(rec.of("user:7")) == ids);

    // Without the token the server refuses with its reason: SSE and long-poll answer
    // the request with 401, so no connection works; a WebSocket connects (channels
    // come later, by command) and the subscribe command gets an error frame.
    Recorder refused;
    Client anonymous(fast_options(h.url(), {t}));
    refused.attach(anonymous);
    anonymous.subscribe("user:7");
    anonymous.start();
    REQUIRE(refused.wait([&] { return !refused.errors.empty(); }));
    CHECK(refused.seen().errors.front().code == "token_required");
    CHECK(refused.seen().errors.front().transport == t);
    if (t != Transport::WebSocket) {
      REQUIRE(refused.wait([&] { return !refused.rounds_failed_at.empty(); }));
      CHECK(refused.seen().transports.empty());
    }
    CHECK(refused.seen().messages.empty());
  }
}

TEST_CASE("a server restarted on the same port: every transport reports the gap and goes on") {
  for (Transport t : kAll) {
    CAPTURE(herald::client::transport_name(t));
    auto h = std::make_unique<HeraldProcess>();
    const int port = h->port();
    Recorder rec;
    Client c(fast_options(h->url(), {t}));
    rec.attach(c);
    c.subscribe("live");
    c.start();
    REQUIRE(wait_subscribed(c, "live"));
    Client pub(fast_options(h->url()));
    const auto before = publish_numbers(pub, "live", 0, 3);
    REQUIRE(rec.wait([&] { return rec.count("live") >= 3; }));

    h->stop();
    h = std::make_unique<HeraldProcess>(std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port)});
    // Embedded broker: the new process starts a new log (epoch), so the old cursor
    // cannot be resumed and the client must say so.
    REQUIRE(rec.wait([&] { return !rec.gaps.empty(); }));
    CHECK(rec.seen().gaps[0].channel == "live");
    CHECK(rec.seen().gaps[0].last_cursor == before.back());
    CHECK(epoch_of(rec.seen().gaps[0].cursor) != epoch_of(before.back()));
    CHECK(rec.seen().transports.size() == 2);

    const auto after = publish_numbers(pub, "live", 3, 6);
    CHECK(epoch_of(after[0]) == epoch_of(rec.seen().gaps[0].cursor));
    REQUIRE(rec.wait([&] { return rec.count("live") >= 6; }));
    std::this_thread::sleep_for(150ms);
    auto all = before;
    all.insert(all.end(), after.begin(), after.end());
    CHECK(ids_of(rec.of("live")) == all);
    CHECK(rec.seen().gaps.size() == 1);
  }
}

TEST_CASE("a server down for a while: reconnect attempts follow the backoff, then delivery resumes") {
  auto h = std::make_unique<HeraldProcess>();
  const int port = h->port();
  Recorder rec;
  auto o = fast_options(h->url(), {Transport::WebSocket, Transport::Sse});
  o.backoff = {100ms, 400ms};
  Client c(o);
  rec.attach(c);
  c.subscribe("stream");
  c.start();
  REQUIRE(wait_subscribed(c, "stream"));
  Client pub(fast_options(h->url()));

  // Mid-stream: a publisher keeps going while the server goes away and comes back.
  std::atomic<bool> publishing{true};
  std::atomic<int> published_ok{0};
  std::thread publisher([&] {
    for (int i = 0; publishing; ++i) {
      if (pub.publish("stream", json{{"n", i}}).ok()) published_ok++;
      std::this_thread::sleep_for(20ms);
    }
  });
  REQUIRE(rec.wait([&] { return rec.messages.size() >= 5; }));
  h->stop();
  const auto down_at = Clock::now();
  std::this_thread::sleep_for(1500ms);
  size_t rounds;
  {
    std::lock_guard lock(rec.mu);
    rounds = rec.rounds_failed_at.size();
  }
  h = std::make_unique<HeraldProcess>(std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port)});
  const auto up_at = Clock::now();
  REQUIRE(rec.wait([&] { return rec.transports.size() >= 2; }, 5s));
  const size_t received_at_reconnect = rec.seen().messages.size();
  REQUIRE(rec.wait([&] { return rec.messages.size() >= received_at_reconnect + 5; }));
  publishing = false;
  publisher.join();

  std::lock_guard lock(rec.mu);
  // Retried while down, but paced: with delays drawn from [0, min(400, 100 * 2^n))
  // ms, 1.5 s leaves room for a handful of rounds, not the hundreds a loop without
  // backoff would make against a refused port.
  CHECK(rounds >= 2);
  CHECK(rounds <= 40);
  for (size_t i = 1; i < rec.rounds_failed_at.size(); ++i) {
    // Capped at 400 ms; the slack is for a loaded machine's scheduling.
    CHECK(rec.rounds_failed_at[i] - rec.rounds_failed_at[i - 1] < 2s);
  }
  CHECK(rec.rounds_failed_at.front() - down_at < 1s);
  CHECK(rec.connected_at.back() - up_at < 2s);
  CHECK(rec.transports.back() == Transport::WebSocket);
  // The new process is a new epoch: one gap, and no message twice.
  CHECK(rec.gaps.size() == 1);
  auto ids = ids_of(rec.messages);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST_CASE("herald-cli publishes and subscribes end to end") {
  HeraldProcess h;
  const std::string url = h.url();

  auto published = run(cli() + " publish --url " + url + " cli:news '{\"n\":0}'");
  REQUIRE(published.status == 0);
  auto lines = json_lines(published.out);
  REQUIRE(lines.size() == 1);
  const std::string first = lines[0].at("id");
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    auto r = run(cli() + " publish --url " + url + " cli:news '{\"n\":" + std::to_string(i) + "}'");
    REQUIRE(r.status == 0);
    ids.push_back(json::parse(r.out).at("id"));
  }

  for (const std::string transport : {"websocket", "sse", "longpoll", "auto"}) {
    CAPTURE(transport);
    auto r = run(cli() + " subscribe --url " + url + " --transport " + transport + " --since " + first +
                 " --count 3 cli:news");
    CHECK(r.status == 0);
    auto got = json_lines(r.out);
    REQUIRE(got.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(got[i].at("channel") == "cli:news");
      CHECK(got[i].at("id") == ids[i]);
      CHECK(got[i].at("data") == json{{"n", i + 1}});
      CHECK(got[i].at("ts").is_number_integer());
    }
  }

  // Live: the subscriber is waiting before the message is published.
  char out_path[] = "/tmp/herald_cli_out_XXXXXX";
  const int fd = ::mkstemp(out_path);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::thread sub([&] {
    auto r = run(cli() + " subscribe --url " + url + " --count 1 cli:live");
    std::ofstream(out_path) << r.status << "\n" << r.out;
  });
  std::this_thread::sleep_for(700ms);
  REQUIRE(run(cli() + " publish --url " + url + " cli:live '\"hello\"'").status == 0);
  sub.join();
  std::ifstream in(out_path);
  int status = -1;
  std::string line;
  in >> status;
  std::getline(in, line);
  std::getline(in, line);
  ::unlink(out_path);
  CHECK(status == 0);
  CHECK(json::parse(line).at("data") == "hello");

  // Bad input and an unreachable server: a clear message and a non-zero status.
  auto bad_json = run(cli() + " publish --url " + url + " cli:news '{oops'");
  CHECK(bad_json.status == 2);
  CHECK(bad_json.err.find("not valid JSON") != std::string::npos);
  auto bad_channel = run(cli() + " subscribe --url " + url + " 'no spaces'");
  CHECK(bad_channel.status == 2);
  CHECK(bad_channel.err.find("channel names") != std::string::npos);
  auto no_url = run(cli() + " subscribe cli:news");
  CHECK(no_url.status == 2);
  CHECK(no_url.err.find("--url") != std::string::npos);
  auto bad_transport = run(cli() + " subscribe --url " + url + " --transport carrier-pigeon cli:news");
  CHECK(bad_transport.status == 2);
  auto down = run(cli() + " subscribe --url http://127.0.0.1:1 cli:news");
  CHECK(down.status == 1);
  CHECK(down.err.find("cannot subscribe") != std::string::npos);
  CHECK(down.out.empty());
  auto down_pub = run(cli() + " publish --url http://127.0.0.1:1 cli:news 1");
  CHECK(down_pub.status == 1);
  CHECK(down_pub.err.find("publish failed") != std::string::npos);
}
