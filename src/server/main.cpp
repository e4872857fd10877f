// herald: the push server. Parses configuration, wires the broker, the hub and the
// HTTP loops together, and waits for SIGINT/SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "broker/memory/broker_memory.h"
#include "src/auth/access.h"
#include "src/config.h"
#include "src/namespaces.h"
#include "src/hub.h"
#include "src/presence.h"
#include "src/server/api_routes.h"
#include "src/server/broker_factory.h"
#include "src/server/inspect_feed.h"
#include "transports/http/http_server.h"
#include "transports/http/tls_stream.h"

#ifndef HERALD_SOURCE_DIR
#define HERALD_SOURCE_DIR "."
#endif

int main(int argc, char** argv) {
  using namespace herald;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << config_usage();
      return 0;
    }
  }
  // Signals are taken by sigwait() in main only; every thread started later inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every connection is a descriptor: use all the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  try {
    Config config = parse_config(argc, argv);
    if (config.static_dir.empty()) config.static_dir = std::string(HERALD_SOURCE_DIR) + "/clients";
    if (config.node_id.empty()) {
      char host[256] = "herald";
      gethostname(host, sizeof host - 1);
      config.node_id = host;
    }
    spdlog::set_level(spdlog::level::from_str(config.log_level));

    // A bad certificate or key stops start-up here, before any broker connection.
    std::unique_ptr<TlsContext> tls;
    if (!config.tls_cert.empty()) tls = std::make_unique<TlsContext>(config.tls_cert, config.tls_key);
    Metrics metrics;
    const Namespaces namespaces = Namespaces::load(config);
    const Access access(namespaces, config.token_secret, config.publish_key);
    Hub hub([&namespaces](std::string_view channel) { return namespaces.history_limits(channel); }, metrics);
    std::unique_ptr<Broker> broker = make_broker(config);
    hub.set_broker(broker.get());
    if (config.presence_timeout_ms <= config.presence_heartbeat_ms)
      throw std::invalid_argument("--presence-timeout must be longer than --presence-heartbeat (3 heartbeats or more)");
    PresenceOptions presence_options;
    presence_options.heartbeat_ms = config.presence_heartbeat_ms;
    presence_options.limits.node_timeout_ms = config.presence_timeout_ms;
    presence_options.limits.linger_ms = config.presence_linger_ms;
    presence_options.limits.max_members = config.presence_max_members;
    presence_options.limits.max_entries = config.presence_max_entries;
    // Unique per process: a restarted node is a new node, and the old one's users expire.
    Presence presence(namespaces, hub, presence_options, config.node_id + "-" + std::to_string(::getpid()) + "-" +
                                                             std::to_string(std::random_device{}() % 100000));
    hub.set_presence(&presence);
    ServerContext ctx(config, hub, *broker, metrics, access);
    ctx.tls = tls.get();
    install_routes(ctx);
    InspectFeed inspect(ctx);
    install_inspect_routes(ctx, inspect);

    HttpServer server(ctx);
    server.start(config.listen_host, config.listen_port, config.threads);
    broker->start(hub);
    inspect.start(server.loops());
    presence.start(*broker);

    const std::string shown_host = config.listen_host == "0.0.0.0" ? "127.0.0.1" : config.listen_host;
    std::printf("Herald %s listening on %s://%s:%u/ (broker: %s)\n", config.node_id.c_str(), tls ? "https" : "http",
                shown_host.c_str(), server.port(), config.broker == "memory" ? "embedded" : "rabbitmq");
    std::fflush(stdout);
    spdlog::info("node {} up on {}:{} with {} loops", config.node_id, config.listen_host, server.port(), config.threads);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("signal {}: draining", sig);
    ctx.draining = true;
    for (EventLoop* loop : server.loops()) loop->post([](EventLoop& l) { l.drain(); });
    // Streams end with a reconnect hint; give clients a moment to finish the close
    // handshakes, then stop whatever is left.
    for (int i = 0; i < 50 && metrics.http_connections.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("stopping with {} connections left", metrics.http_connections.load());
    inspect.stop();
    presence.stop();  // before the loops go: it pushes events to them
    hub.detach_loops();  // the broker may deliver until broker->stop(); the loops go now
    server.stop();
    broker->stop();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald: %s\n", e.what());
    return 2;
  }
}
