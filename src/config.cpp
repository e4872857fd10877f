#include "src/config.h"

#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>

namespace herald {
namespace {

int64_t to_int(const std::string& flag, const std::string& v, int64_t min, int64_t max) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || n < min || n > max)
    throw std::invalid_argument("--" + flag + ": expected an integer in [" + std::to_string(min) + ", " +
                                std::to_string(max) + "], got '" + v + "'");
  return n;
}

std::vector<std::string> to_list(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    auto comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (comma > start) out.push_back(v.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

using Setter = std::function<void(Config&, const std::string& flag, const std::string& value)>;

const std::map<std::string, std::pair<Setter, const char*>>& options() {
  static const std::map<std::string, std::pair<Setter, const char*>> table = {
      {"listen", {[](Config& c, const std::string& f, const std::string& v) {
                    auto colon = v.rfind(':');
                    if (colon == std::string::npos) throw std::invalid_argument("--" + f + ": expected HOST:PORT");
                    c.listen_host = v.substr(0, colon);
                    c.listen_port = static_cast<uint16_t>(to_int(f, v.substr(colon + 1), 0, 65535));
                  },
                  "HOST:PORT to listen on (default 0.0.0.0:8080; port 0 picks a free one)"}},
      {"broker", {[](Config& c, const std::string&, const std::string& v) { c.broker = v; },
                  "memory (embedded, default) or amqp://user:pass@host:port/vhost"}},
      {"publish-key", {[](Config& c, const std::string&, const std::string& v) { c.publish_key = v; },
                       "require 'Authorization: Bearer KEY' on POST /api/publish"}},
      {"history", {[](Config& c, const std::string& f, const std::string& v) { c.history = to_int(f, v, 1, 10000000); },
                   "messages kept per channel for resume (default 1000)"}},
      {"history-age", {[](Config& c, const std::string& f, const std::string& v) { c.history_age_s = to_int(f, v, 1, kMaxHistoryAgeSeconds); },
                       "seconds a message is kept for resume (default 3600)"}},
      {"threads", {[](Config& c, const std::string& f, const std::string& v) { c.threads = to_int(f, v, 1, 256); },
                   "event-loop threads (default 2)"}},
      {"node-id", {[](Config& c, const std::string&, const std::string& v) { c.node_id = v; }, "name of this node in logs and /healthz"}},
      {"log-level", {[](Config& c, const std::string&, const std::string& v) { c.log_level = v; },
                     "trace, debug, info, warn, error (default info)"}},
      {"heartbeat", {[](Config& c, const std::string& f, const std::string& v) { c.heartbeat_ms = to_int(f, v, 100, 3600000); },
                     "milliseconds between SSE heartbeats and WebSocket pings (default 15000)"}},
      {"poll-timeout", {[](Config& c, const std::string& f, const std::string& v) { c.poll_timeout_ms = to_int(f, v, 0, 3600000); },
                        "default long-poll hold in milliseconds (default 25000)"}},
      {"max-body", {[](Config& c, const std::string& f, const std::string& v) { c.max_body = to_int(f, v, 64, 1 << 30); },
                    "largest publish request body in bytes (default 1048576)"}},
      {"max-outbox", {[](Config& c, const std::string& f, const std::string& v) { c.max_outbox = to_int(f, v, 1024, 1 << 30); },
                      "bytes queued for one slow connection before it is disconnected (default 1048576)"}},
      {"ws-max-message", {[](Config& c, const std::string& f, const std::string& v) { c.ws_max_message = to_int(f, v, 125, 1 << 30); },
                          "largest WebSocket message a client may send, in bytes (default 1048576)"}},
      {"ws-pong-timeout", {[](Config& c, const std::string& f, const std::string& v) { c.ws_pong_timeout_ms = to_int(f, v, 100, 3600000); },
                           "milliseconds a WebSocket peer has to answer a ping (default 10000)"}},
      {"allowed-origins", {[](Config& c, const std::string&, const std::string& v) { c.allowed_origins = to_list(v); },
                           "comma-separated Origins allowed to open a WebSocket (default: any)"}},
      {"client-publish", {[](Config& c, const std::string&, const std::string& v) { c.client_publish = to_list(v); },
                          "comma-separated namespaces WebSocket clients may publish to (default: none)"}},
      {"static-dir", {[](Config& c, const std::string&, const std::string& v) { c.static_dir = v; },
                      "folder served at / (default: the clients/ folder of the source tree)"}},
      {"max-connections-per-ip", {[](Config& c, const std::string& f, const std::string& v) { c.max_connections_per_ip = to_int(f, v, 0, 10000000); },
                                  "connections one client address may hold (default 0: no limit)"}},
      {"client-publish-rate", {[](Config& c, const std::string& f, const std::string& v) { c.client_publish_rate = static_cast<double>(to_int(f, v, 1, 1000000)); },
                               "WebSocket publishes per second one connection may make (default 20, bursts of 2 s)"}},
      {"config", {[](Config& c, const std::string&, const std::string& v) { c.config_file = v; },
                  "JSON file with per-namespace policy (private, client_publish, history, slow_consumer)"}},
      {"token-secret", {[](Config& c, const std::string&, const std::string& v) { c.token_secret = v; },
                        "HS256 secret that signs client tokens (JWT); enables private namespaces"}},
      {"tls-cert", {[](Config& c, const std::string&, const std::string& v) { c.tls_cert = v; },
                    "PEM certificate (chain) file: serve https and wss on the port (needs --tls-key)"}},
      {"tls-key", {[](Config& c, const std::string&, const std::string& v) { c.tls_key = v; },
                   "PEM private key file of --tls-cert"}},
      {"presence-heartbeat", {[](Config& c, const std::string& f, const std::string& v) { c.presence_heartbeat_ms = to_int(f, v, 50, 600000); },
                              "milliseconds between a node's presence snapshots to the others (default 2000)"}},
      {"presence-timeout", {[](Config& c, const std::string& f, const std::string& v) { c.presence_timeout_ms = to_int(f, v, 100, 3600000); },
                            "milliseconds without a snapshot after which a node's users leave (default 6000)"}},
      {"presence-linger", {[](Config& c, const std::string& f, const std::string& v) { c.presence_linger_ms = to_int(f, v, 0, 600000); },
                           "milliseconds a user stays listed after their last subscription ends (default 2000)"}},
      {"presence-max-members", {[](Config& c, const std::string& f, const std::string& v) { c.presence_max_members = to_int(f, v, 1, 10000000); },
                                "users listed per presence channel; more are not listed (default 1000)"}},
      {"presence-max-entries", {[](Config& c, const std::string& f, const std::string& v) { c.presence_max_entries = to_int(f, v, 1, 100000000); },
                                "(channel, user) pairs listed in all channels (default 100000)"}},
      {"max-connections", {[](Config& c, const std::string& f, const std::string& v) { c.max_connections = to_int(f, v, 1, 10000000); },
                           "connections held at once before new ones are refused (default 100000)"}},
  };
  return table;
}

std::string env_name(const std::string& flag) {
  std::string out = "HERALD_";
  for (char c : flag) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

std::string config_usage() {
  std::string out = "usage: herald [--flag value | --flag=value]...\n";
  for (const auto& [name, opt] : options()) out += "  --" + name + " (" + env_name(name) + ")\n      " + opt.second + "\n";
  return out;
}

Config parse_config(int argc, char** argv) {
  Config c;
  for (const auto& [name, opt] : options())
    if (const char* v = std::getenv(env_name(name).c_str())) opt.first(c, name, v);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
    arg = arg.substr(2);
    std::string value;
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) throw std::invalid_argument("--" + arg + " needs a value");
      value = argv[++i];
    }
    auto it = options().find(arg);
    if (it == options().end()) throw std::invalid_argument("unknown flag --" + arg + " (see --help)");
    it->second.first(c, arg, value);
  }
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw std::invalid_argument("--tls-cert and --tls-key go together: give both to serve TLS, or neither");
  return c;
}

}  // namespace herald
