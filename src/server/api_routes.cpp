#include "src/server/api_routes.h"

#include <fstream>
#include <sstream>

#include "src/presence.h"
#include "transports/http/http_response.h"
#include "transports/longpoll/longpoll_transport.h"
#include "transports/sse/sse_transport.h"
#include "transports/websocket/websocket_transport.h"

namespace herald {

void handle_publish(EventLoop& loop, Conn& conn, HttpRequest& req);

namespace {

void handle_healthz(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  const BrokerStatus b = ctx.broker.status();
  const bool up = b.state == "up" && !ctx.draining;
  std::string body = "{\"status\":";
  append_json_string(body, ctx.draining ? "draining" : (up ? "ok" : "degraded"));
  body += ",\"node\":";
  append_json_string(body, ctx.config.node_id);
  body += ",\"broker\":{\"kind\":";
  append_json_string(body, ctx.config.broker == "memory" ? "memory" : "rabbitmq");
  body += ",\"state\":";
  append_json_string(body, b.state);
  body += ",\"detail\":";
  append_json_string(body, b.detail);
  body += ",\"lag\":" + std::to_string(b.lag) + "}}";
  conn.write(http_response(up ? 200 : 503, "application/json", body, req.keep_alive()));
}

// One Prometheus metric: its HELP and TYPE lines, then one sample.
template <typename V>
void metric(std::ostringstream& out, const char* name, const char* type, const char* help, V value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
}

// The same, with one sample per transport.
void per_transport(std::ostringstream& out, const char* name, const char* type, const char* help,
                   const std::atomic<int64_t>* gauges, const std::atomic<uint64_t>* counters) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  for (int k = 0; k < kTransportKinds; ++k) {
    out << name << "{transport=\"" << transport_name(static_cast<TransportKind>(k)) << "\"} ";
    if (gauges) {
      out << gauges[k].load();
    } else {
      out << counters[k].load();
    }
    out << '\n';
  }
}

void handle_metrics(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  auto& m = ctx.metrics;
  std::ostringstream out;
  per_transport(out, "herald_connections", "gauge", "Open streaming connections by transport.", m.connections,
                nullptr);
  per_transport(out, "herald_connections_opened_total", "counter", "Streaming connections opened by transport.",
                nullptr, m.connections_total);
  metric(out, "herald_http_connections", "gauge", "Open TCP connections.", m.http_connections.load());
  metric(out, "herald_messages_published_total", "counter", "Messages accepted by the publish API.",
         m.published.load());
  metric(out, "herald_publish_errors_total", "counter", "Publish requests the broker refused.",
         m.publish_errors.load());
  per_transport(out, "herald_messages_delivered_total", "counter", "Messages written to subscribers by transport.",
                nullptr, m.delivered);
  metric(out, "herald_history_messages", "gauge", "Messages held for resume.", ctx.hub.history().size());
  metric(out, "herald_history_channels", "gauge", "Channels with history.", ctx.hub.history().channel_count());
  metric(out, "herald_slow_consumer_drops_total", "counter", "Connections closed because their outbox was full.",
         m.slow_consumer_drops.load());
  metric(out, "herald_conflated_messages_total", "counter",
         "Messages a slow subscriber of a \"latest\" namespace skipped for a newer one (told by a gap notice).",
         m.conflated.load());
  metric(out, "herald_loop_overflows_total", "counter", "Times a loop fell behind the dispatch ring.",
         m.loop_overflows.load());
  metric(out, "herald_http_requests_total", "counter", "HTTP requests parsed.", m.requests.load());
  metric(out, "herald_client_errors_total", "counter", "Requests refused for a client error.",
         m.client_errors.load());
  metric(out, "herald_limit_refusals_total", "counter", "Connections refused by a connection limit.",
         m.limit_refusals.load());
  metric(out, "herald_rate_limited_total", "counter", "Client publishes refused by the rate limit.",
         m.rate_limited.load());
  if (const Presence* presence = ctx.hub.presence()) {
    metric(out, "herald_presence_entries", "gauge", "(channel, user) pairs listed in presence, all nodes.",
           presence->entries());
    metric(out, "herald_presence_nodes", "gauge", "Other nodes whose presence snapshots are current.",
           presence->nodes());
    metric(out, "herald_presence_overflows_total", "counter", "Users not listed because a presence table was full.",
           presence->overflows());
  }
  const BrokerStatus b = ctx.broker.status();
  metric(out, "herald_broker_up", "gauge", "1 when the broker is connected.", b.state == "up" ? 1 : 0);
  metric(out, "herald_broker_lag", "gauge", "Messages in the log not yet delivered to this node.", b.lag);
  metric(out, "herald_broker_reconnects_total", "counter", "Broker reconnections.", b.reconnects);
  metric(out, "herald_broker_confirms_total", "counter", "Publishes confirmed by the broker.", b.confirms);
  conn.write(http_response(200, "text/plain; version=0.0.4", out.str(), req.keep_alive()));
}

std::string content_type_for(const std::string& path) {
  auto ends = [&](const char* ext) {
    const std::string e = ext;
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "application/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ts")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// Files under the static folder. `/herald.js` is the browser client in clients/js.
void handle_static(EventLoop& loop, Conn& conn, HttpRequest& req) {
  const auto& root = loop.ctx().config.static_dir;
  auto not_found = [&] {
    conn.write(http_response(404, "application/json",
                             json_error_body("not_found", "no such resource: " + req.path.substr(0, 200)),
                             req.keep_alive()));
  };
  if (req.method != "GET" && req.method != "HEAD") return not_found();
  std::string rel = req.path;
  if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos) return not_found();
  if (rel == "/herald.js" || rel == "/herald.mjs" || rel == "/herald.d.ts") rel = "/js" + rel;
  if (!rel.empty() && rel.back() == '/') rel += "index.html";
  std::ifstream file(root + rel, std::ios::binary);
  if (!file) return not_found();
  std::stringstream data;
  data << file.rdbuf();
  std::string body = data.str();
  if (req.method == "HEAD") body.clear();
  conn.write(http_response(200, content_type_for(rel), body, req.keep_alive()));
}

}  // namespace

void install_routes(ServerContext& ctx) {
  ctx.routes["/api/publish"] = handle_publish;
  ctx.routes["/healthz"] = handle_healthz;
  ctx.routes["/metrics"] = handle_metrics;
  ctx.routes["/sse"] = handle_sse;
  ctx.routes["/poll"] = handle_poll;
  ctx.routes["/ws"] = handle_websocket;
  install_presence_routes(ctx);
  ctx.fallback = handle_static;
}

}  // namespace herald
