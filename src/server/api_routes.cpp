#include "src/server/api_routes.h"

#include <fstream>
#include <sstream>

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

void handle_metrics(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  auto& m = ctx.metrics;
  std::ostringstream out;
  out << "# HELP herald_connections Open streaming connections by transport.\n# TYPE herald_connections gauge\n";
  for (int k = 0; k < kTransportKinds; ++k)
    out << "herald_connections{transport=\"" << transport_name(static_cast<TransportKind>(k)) << "\"} "
        << m.connections[k].load() << "\n";
  out << "# HELP herald_connections_opened_total Streaming connections opened by transport.\n"
         "# TYPE herald_connections_opened_total counter\n";
  for (int k = 0; k < kTransportKinds; ++k)
    out << "herald_connections_opened_total{transport=\"" << transport_name(static_cast<TransportKind>(k)) << "\"} "
        << m.connections_total[k].load() << "\n";
  out << "# HELP herald_http_connections Open TCP connections.\n# TYPE herald_http_connections gauge\n"
      << "herald_http_connections " << m.http_connections.load() << "\n";
  out << "# HELP herald_messages_published_total Messages accepted by the publish API.\n"
         "# TYPE herald_messages_published_total counter\nherald_messages_published_total "
      << m.published.load() << "\n";
  out << "# HELP herald_publish_errors_total Publish requests the broker refused.\n"
         "# TYPE herald_publish_errors_total counter\nherald_publish_errors_total "
      << m.publish_errors.load() << "\n";
  out << "# HELP herald_messages_delivered_total Messages written to subscribers by transport.\n"
         "# TYPE herald_messages_delivered_total counter\n";
  for (int k = 0; k < kTransportKinds; ++k)
    out << "herald_messages_delivered_total{transport=\"" << transport_name(static_cast<TransportKind>(k)) << "\"} "
        << m.delivered[k].load() << "\n";
  out << "# HELP herald_history_messages Messages held for resume.\n# TYPE herald_history_messages gauge\n"
      << "herald_history_messages " << ctx.hub.history().size() << "\n";
  out << "# HELP herald_history_channels Channels with history.\n# TYPE herald_history_channels gauge\n"
      << "herald_history_channels " << ctx.hub.history().channel_count() << "\n";
  out << "# HELP herald_slow_consumer_drops_total Connections closed because their outbox was full.\n"
         "# TYPE herald_slow_consumer_drops_total counter\nherald_slow_consumer_drops_total "
      << m.slow_consumer_drops.load() << "\n";
  out << "# HELP herald_loop_overflows_total Times a loop fell behind the dispatch ring.\n"
         "# TYPE herald_loop_overflows_total counter\nherald_loop_overflows_total "
      << m.loop_overflows.load() << "\n";
  out << "# HELP herald_http_requests_total HTTP requests parsed.\n# TYPE herald_http_requests_total counter\n"
      << "herald_http_requests_total " << m.requests.load() << "\n";
  out << "# HELP herald_client_errors_total Requests refused for a client error.\n"
         "# TYPE herald_client_errors_total counter\nherald_client_errors_total "
      << m.client_errors.load() << "\n";
  out << "# HELP herald_limit_refusals_total Connections refused by a connection limit.\n"
         "# TYPE herald_limit_refusals_total counter\nherald_limit_refusals_total "
      << m.limit_refusals.load() << "\n";
  out << "# HELP herald_rate_limited_total Client publishes refused by the rate limit.\n"
         "# TYPE herald_rate_limited_total counter\nherald_rate_limited_total "
      << m.rate_limited.load() << "\n";
  const BrokerStatus b = ctx.broker.status();
  out << "# HELP herald_broker_up 1 when the broker is connected.\n# TYPE herald_broker_up gauge\nherald_broker_up "
      << (b.state == "up" ? 1 : 0) << "\n";
  out << "# HELP herald_broker_lag Messages in the log not yet delivered to this node.\n"
         "# TYPE herald_broker_lag gauge\nherald_broker_lag "
      << b.lag << "\n";
  out << "# HELP herald_broker_reconnects_total Broker reconnections.\n# TYPE herald_broker_reconnects_total counter\n"
      << "herald_broker_reconnects_total " << b.reconnects << "\n";
  out << "# HELP herald_broker_confirms_total Publishes confirmed by the broker.\n"
         "# TYPE herald_broker_confirms_total counter\nherald_broker_confirms_total "
      << b.confirms << "\n";
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
  ctx.fallback = handle_static;
}

}  // namespace herald
