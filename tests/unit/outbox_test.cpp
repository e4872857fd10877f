// The outbox bound, with a real socket pair and a fake HTTP-library backend.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "broker/memory/broker_memory.h"
#include "transports/http/event_loop.h"

using namespace herald;

namespace {
struct FakeBackend : LoopBackend {
  std::vector<int> closed;
  void close_peer(int fd) override {
    closed.push_back(fd);
    ::close(fd);
  }
  void watch_writable(int) override {}
};
}  // namespace

TEST_CASE("a consumer that stops reading is dropped at the outbox limit, not buffered without bound") {
  Config config;
  config.max_outbox = 64 * 1024;
  Metrics metrics;
  Hub hub({10, std::chrono::hours(1)}, metrics);
  MemoryBroker broker;
  Namespaces namespaces(config);
  Access access(namespaces, "", "");
  ServerContext ctx(config, hub, broker, metrics, access);
  FakeBackend backend;
  EventLoop loop(0, ctx, backend);

  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  int small = 4096;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  loop.attach(fds[0], nullptr, "127.0.0.1");
  Conn* conn = nullptr;
  for (uint64_t serial = 1; serial < 4 && !conn; ++serial) conn = loop.find((serial << 24) | fds[0]);
  REQUIRE(conn);

  const auto chunk = std::make_shared<const std::string>(1000, 'x');
  size_t accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    if (!conn->write_shared(chunk, *chunk)) break;
    ++accepted;
    if (i % 10 == 0) loop.end_of_round();  // flushes what the socket takes
    if (!backend.closed.empty()) break;
  }
  loop.end_of_round();
  REQUIRE(metrics.slow_consumer_drops == 1);
  REQUIRE(backend.closed == std::vector<int>{fds[0]});
  // What was accepted is bounded by socket buffers plus the outbox limit.
  REQUIRE(accepted * 1000 < 64 * 1024 + 1024 * 1024);
  ::close(fds[1]);
}

namespace {
struct EmptyWatcher : ConnHandler {
  int emptied = 0;
  void on_tick(Conn&, int64_t) override {}
  void on_outbox_empty(Conn&) override { ++emptied; }
  void on_closed(Conn&) override {}
};
}  // namespace

TEST_CASE("a connection reports itself backlogged before its outbox limit, and tells when it has emptied") {
  Config config;
  config.max_outbox = 1024 * 1024;
  Metrics metrics;
  Hub hub({10, std::chrono::hours(1)}, metrics);
  MemoryBroker broker;
  Namespaces namespaces(config);
  Access access(namespaces, "", "");
  ServerContext ctx(config, hub, broker, metrics, access);
  FakeBackend backend;
  EventLoop loop(0, ctx, backend);

  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  int small = 4096;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  loop.attach(fds[0], nullptr, "127.0.0.1");
  Conn* conn = nullptr;
  for (uint64_t serial = 1; serial < 4 && !conn; ++serial) conn = loop.find((serial << 24) | fds[0]);
  REQUIRE(conn);
  auto watcher = std::make_unique<EmptyWatcher>();
  EmptyWatcher& w = *watcher;
  conn->take_over(std::move(watcher), TransportKind::Sse);

  const auto chunk = std::make_shared<const std::string>(1000, 'x');
  // Within one round a fast reader's batch does not count: nothing was refused yet.
  for (int i = 0; i < 100; ++i) REQUIRE(conn->write_shared(chunk, *chunk));
  REQUIRE_FALSE(conn->backlogged());
  // The reader takes nothing: once the kernel refuses and 64 KiB wait, it is behind.
  int rounds = 0;
  while (!conn->backlogged() && rounds++ < 1000) {
    REQUIRE(conn->write_shared(chunk, *chunk));
    loop.end_of_round();
  }
  REQUIRE(conn->backlogged());
  REQUIRE(metrics.slow_consumer_drops == 0);
  conn->notify_when_empty();
  loop.end_of_round();
  REQUIRE(w.emptied == 0);

  // The reader drains everything; the next flush empties the outbox and says so once.
  std::vector<char> sink(1 << 16);
  for (int spins = 0; spins < 1000 && w.emptied == 0; ++spins) {
    while (::recv(fds[1], sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
    }
    loop.on_io(fds[0], false, true);
    loop.end_of_round();
  }
  REQUIRE(w.emptied == 1);
  REQUIRE_FALSE(conn->backlogged());
  loop.on_io(fds[0], false, true);
  loop.end_of_round();
  REQUIRE(w.emptied == 1);
  ::close(fds[1]);
}
