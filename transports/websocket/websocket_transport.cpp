// The WebSocket handshake on the shared port (RFC 6455 section 4.2): validated by the
// codec, answered with a raw 101, then the connection belongs to a WsSession.
#include "transports/websocket/websocket_transport.h"

#include "src/subscribe_request.h"
#include "transports/http/http_response.h"
#include "transports/http/request_auth.h"
#include "transports/websocket/ws_codec.h"
#include "transports/websocket/ws_session.h"

namespace herald {

void handle_websocket(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  ws::HandshakeRequest hs{req.method, req.version, req.headers};
  ws::HandshakePolicy policy{ctx.config.allowed_origins};
  auto result = ws::check_handshake(hs, policy);
  if (auto* reject = std::get_if<ws::HandshakeReject>(&result)) {
    ctx.metrics.client_errors++;
    std::string extra;
    for (const auto& [name, value] : reject->headers) extra += name + ": " + value + "\r\n";
    conn.write(http_response(reject->status, "application/json", json_error_body("bad_handshake", reject->reason),
                             false, extra));
    conn.close_after_flush();
    return;
  }
  const auto since_param = req.param("since");
  SubscribeRequest sub;
  if (auto err = read_subscribe_request(req.params("channel"), {since_param ? &*since_param : nullptr}, false, sub)) {
    ctx.metrics.client_errors++;
    conn.write(error_response(*err, false));
    conn.close_after_flush();
    return;
  }
  std::optional<TokenClaims> claims;
  if (auto err = authorize_subscribe(ctx.access, req, sub.channels, claims)) {
    ctx.metrics.client_errors++;
    conn.write(error_response(*err, false));
    conn.close_after_flush();
    return;
  }
  conn.write(ws::build_accept_response(std::get<ws::HandshakeAccept>(result)));
  auto session = std::make_unique<WsSession>(loop, conn, std::move(claims));
  WsSession& s = *session;
  conn.take_over(std::move(session), TransportKind::WebSocket);
  for (const auto& ch : sub.channels) s.subscribe(ch, sub.since);
}

}  // namespace herald
