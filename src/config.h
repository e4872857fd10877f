#pragma once
// Start-up configuration: command-line flags, each with a matching environment
// variable (--history-age -> HERALD_HISTORY_AGE); flags win. Errors throw
// std::invalid_argument with a message naming the flag (caught in main).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace herald {

// History is kept at most 30 days: the bound of --history-age and of a namespace's
// history_age (a larger number of seconds would overflow the age in milliseconds).
inline constexpr int64_t kMaxHistoryAgeSeconds = 86400 * 30;

struct Config {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;
  std::string broker = "memory";
  std::string publish_key;
  size_t history = 1000;           // messages kept per channel
  int64_t history_age_s = 3600;    // and for at most this long (kMaxHistoryAgeSeconds)
  size_t threads = 2;              // event loops
  std::string node_id;
  std::string log_level = "info";
  int64_t heartbeat_ms = 15000;    // SSE comment / WebSocket ping interval
  int64_t poll_timeout_ms = 25000; // default long-poll hold
  int64_t max_poll_timeout_ms = 120000;
  size_t max_body = 1 << 20;       // publish request body limit
  size_t max_outbox = 1 << 20;     // bytes queued to one slow connection before it is dropped
  size_t ws_max_message = 1 << 20; // largest WebSocket message accepted from a client
  int64_t ws_pong_timeout_ms = 10000;
  std::vector<std::string> allowed_origins;    // WebSocket Origin allow-list; empty: any
  std::vector<std::string> client_publish;     // namespaces clients may publish to over WebSocket
  std::string static_dir;          // served at /, defaults to the clients/ folder
  size_t max_connections = 100000;
  size_t max_connections_per_ip = 0;   // 0: no per-address limit
  double client_publish_rate = 20;     // WebSocket publishes per second per connection (burst: 2 s worth)
  std::string config_file;         // per-namespace policy (JSON)
  std::string token_secret;        // HS256 key for client tokens
  std::string tls_cert;            // PEM certificate chain; with tls_key, the port speaks only TLS
  std::string tls_key;             // PEM private key of tls_cert
  // Presence (namespaces with "presence": true) and live counts across nodes.
  int64_t presence_heartbeat_ms = 2000;  // a node's snapshot to the others
  int64_t presence_timeout_ms = 6000;    // a node silent this long is dead: its users leave
  int64_t presence_linger_ms = 2000;     // a user stays listed this long after their last subscription
  size_t presence_max_members = 1000;    // users listed per channel
  size_t presence_max_entries = 100000;  // (channel, user) pairs listed in all
};

// Parses argv (and the environment). `--help` text is returned via `usage`.
Config parse_config(int argc, char** argv);
std::string config_usage();

}  // namespace herald
