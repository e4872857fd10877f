#include "tests/fuzz/fuzz_node.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "broker/memory/broker_memory.h"
#include "src/auth/access.h"
#include "src/auth/jwt.h"
#include "src/config.h"
#include "src/hub.h"
#include "src/namespaces.h"
#include "src/server/api_routes.h"
#include "transports/http/event_loop.h"

#ifndef HERALD_SOURCE_DIR
#define HERALD_SOURCE_DIR "."
#endif

namespace herald::fuzz {
namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_node invariant broken: %s\n", what);
    std::abort();
  }
}

// The HTTP library's part: here it only closes what the loop is done with.
class SocketpairBackend final : public LoopBackend {
 public:
  void close_peer(int fd) override { ::close(fd); }
  void watch_writable(int) override {}
};

const std::string& namespaces_file() {
  static const std::string path = [] {
    char name[] = "/tmp/herald-fuzz-namespaces-XXXXXX";
    const int fd = ::mkstemp(name);
    check(fd >= 0, "cannot create the namespaces file");
    const std::string text =
        R"({"namespaces": {"priv": {"private": true}, "chat": {"client_publish": true}, "score": {"history": 5}}})";
    check(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()), "cannot write namespaces");
    ::close(fd);
    std::atexit([] { ::unlink(namespaces_file().c_str()); });
    return std::string(name);
  }();
  return path;
}

// Everything main() wires together, minus the listener and the threads.
struct Node {
  Node() : namespaces(load_namespaces(config)), access(namespaces, config.token_secret, config.publish_key),
           hub([this](std::string_view ch) { return namespaces.history_limits(ch); }, metrics, 256),
           ctx(config, hub, broker, metrics, access) {
    hub.set_broker(&broker);
    install_routes(ctx);
    loop = std::make_unique<EventLoop>(0, ctx, backend);
    hub.add_loop(loop.get());
    broker.start(hub);
  }
  ~Node() { broker.stop(); }

  static Namespaces load_namespaces(Config& c) {
    c.token_secret = std::string(kTokenSecret);
    c.publish_key = std::string(kPublishKey);
    c.config_file = namespaces_file();
    c.static_dir = std::string(HERALD_SOURCE_DIR) + "/clients";
    c.max_outbox = 256 * 1024;
    c.ws_max_message = 64 * 1024;
    c.max_body = 64 * 1024;
    return Namespaces::load(c);
  }

  // One round of the loop, as the HTTP library's epoll loop would run it.
  void round(int fd, bool readable) {
    if (readable && loop->owns(fd)) loop->on_io(fd, true, false);
    loop->on_wake();  // posted answers (publish confirms) and the fan-out
    loop->end_of_round();
  }

  Config config;
  Metrics metrics;
  Namespaces namespaces;
  Access access;
  Hub hub;
  MemoryBroker broker;
  ServerContext ctx;
  SocketpairBackend backend;
  std::unique_ptr<EventLoop> loop;
};

void read_all(int fd, std::string& out) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (out.size() < (4u << 20)) out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

}  // namespace

std::string full_rights_token() {
  static const std::string token = sign_token(R"({"sub":"fuzz","channels":["*"],"publish":["*"]})", kTokenSecret);
  return token;
}

std::string client_frame(uint8_t opcode, std::string_view payload) {
  static constexpr uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::string f;
  f.push_back(static_cast<char>(0x80 | (opcode & 0x0F)));
  const size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> s) & 0xFF));
  }
  f.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ kMask[i % 4]));
  return f;
}

std::string exchange(std::string_view input, ExchangeOptions options) {
  Node node;
  int sv[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair failed");
  const int server = sv[0], client = sv[1];
  node.loop->attach(server, nullptr, "127.0.0.1");

  std::string answer;
  size_t sent = 0;
  // A node that stops reading (closing, or parked with a full buffer) leaves the
  // rest unsent: give up after a few rounds without progress.
  for (int idle_rounds = 0; sent < input.size() && idle_rounds < 4;) {
    const ssize_t n = ::send(client, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;  // the node closed: the rest is not read
    if (n > 0) {
      sent += static_cast<size_t>(n);
      idle_rounds = 0;
    } else {
      ++idle_rounds;
    }
    node.round(server, true);
    read_all(client, answer);
  }
  node.round(server, true);
  if (options.tick && node.loop->owns(server)) node.loop->on_timer();
  if (options.drain) {
    node.ctx.draining = true;
    node.loop->drain();
  }
  node.round(server, false);
  read_all(client, answer);

  ::close(client);  // the server side sees EOF (or has closed already)
  node.round(server, true);
  check(!node.loop->owns(server), "the connection outlived its client");
  check(node.metrics.http_connections == 0 && node.ctx.open_connections == 0, "connection counters leaked");
  for (int k = 0; k < kTransportKinds; ++k) check(node.metrics.connections[k] == 0, "stream gauge leaked");
  check(node.loop->subscriptions().channel_count() == 0, "a subscription outlived its connection");
  // To see what the node answered to a reproducer: HERALD_FUZZ_SHOW=1 ./fuzz_X FILE
  static const bool show = std::getenv("HERALD_FUZZ_SHOW") != nullptr;
  if (show) std::fwrite(answer.data(), 1, answer.size(), stderr);
  return answer;
}

}  // namespace herald::fuzz
