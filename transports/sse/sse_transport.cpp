// Server-Sent Events: adapts the core's Session to the text/event-stream format.
// Each message's event is encoded once (Message::sse_chunk, already an HTTP chunk)
// and the same bytes go to every stream.
#include "transports/sse/sse_transport.h"

#include "src/session.h"
#include "src/subscribe_request.h"
#include "src/clock.h"
#include "transports/http/http_response.h"
#include "transports/http/request_auth.h"

namespace herald {
namespace {

constexpr int64_t kRetryMs = 2000;
constexpr size_t kPaddingBytes = 2048;

class SseStream final : public ConnHandler, public SessionWire {
 public:
  SseStream(EventLoop& loop, Conn& conn, bool chunked, int64_t token_exp_s)
      : conn_(conn), token_exp_s_(token_exp_s), session_(loop.subscriptions(), *this), chunked_(chunked),
        heartbeat_ms_(loop.ctx().config.heartbeat_ms), next_heartbeat_(loop.now_ms() + heartbeat_ms_),
        delivered_(loop.ctx().metrics.delivered[static_cast<int>(TransportKind::Sse)]),
        conflated_(loop.ctx().metrics.conflated) {}

  Session& session() { return session_; }

  void write_event(std::string_view event) {
    std::string out;
    if (chunked_) {
      append_http_chunk(out, event);
    } else {
      out.assign(event);
    }
    conn_.write(std::move(out));
  }

  void write_message(const MessagePtr& m) override {
    std::string_view bytes = m->sse_chunk;
    if (!chunked_) {  // HTTP/1.0: the bare event inside the chunk framing
      bytes.remove_prefix(bytes.find("\r\n") + 2);
      bytes.remove_suffix(2);
    }
    if (conn_.write_shared(m, bytes)) delivered_++;
  }

  bool backlogged() const override { return conn_.backlogged(); }
  void notify_when_empty() override { conn_.notify_when_empty(); }
  void on_outbox_empty(Conn&) override { session_.release_held(); }
  void write_gap(const std::string& channel, uint64_t skipped) override {
    // No id line: the client's Last-Event-ID stays at the last message it received.
    std::string event = "event: gap\ndata: {\"channel\":";
    append_json_string(event, channel);
    event += ",\"skipped\":" + std::to_string(skipped) + "}\n\n";
    write_event(event);
    conflated_ += skipped;
  }

  void on_tick(Conn&, int64_t now_ms) override {
    if (token_exp_s_ != 0 && unix_ms() / 1000 >= token_exp_s_) {
      // The subscription ends with the token; the client reconnects with a fresh one.
      session_.unsubscribe_all();
      write_event("event: error\ndata: {\"code\":\"token_expired\",\"message\":\"the token expired; reconnect with a new one\"}\n\n");
      if (chunked_) conn_.write("0\r\n\r\n");
      conn_.close_after_flush();
      token_exp_s_ = 0;
      return;
    }
    if (now_ms < next_heartbeat_) return;
    next_heartbeat_ = now_ms + heartbeat_ms_;
    write_event(":hb\n\n");
  }

  void on_drain(Conn&) override {
    session_.unsubscribe_all();
    write_event("retry: 500\n: server shutting down; reconnect to resume\n\n");
    if (chunked_) conn_.write("0\r\n\r\n");  // the end of the chunked body
    conn_.close_after_flush();
  }

  void on_closed(Conn&) override { session_.unsubscribe_all(); }

 private:
  Conn& conn_;
  int64_t token_exp_s_;
  Session session_;
  bool chunked_;
  int64_t heartbeat_ms_;
  int64_t next_heartbeat_;
  std::atomic<uint64_t>& delivered_;
  std::atomic<uint64_t>& conflated_;
};

}  // namespace

std::string sse_response_head(bool chunked) {
  std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream; charset=utf-8\r\n"
      "Cache-Control: no-cache, no-transform\r\n"
      "X-Accel-Buffering: no\r\n";
  head += kCorsHeaders;
  head += chunked ? "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

void handle_sse(EventLoop& loop, Conn& conn, HttpRequest& req) {
  if (req.method != "GET") {
    conn.write(http_response(405, "application/json", json_error_body("method_not_allowed", "use GET for /sse"),
                             req.keep_alive(), "Allow: GET\r\n"));
    return;
  }
  const auto last_event_id = req.header("last-event-id");
  const auto last_id_param = req.param("lastEventId");
  const auto since_param = req.param("since");
  SubscribeRequest sub;
  if (auto err = read_subscribe_request(req.params("channel"),
                                        {last_event_id, last_id_param ? &*last_id_param : nullptr,
                                         since_param ? &*since_param : nullptr},
                                        true, sub)) {
    loop.ctx().metrics.client_errors++;
    conn.write(error_response(*err, req.keep_alive()));
    return;
  }
  std::optional<TokenClaims> claims;
  if (auto err = authorize_subscribe(loop.ctx().access, req, sub.channels, claims)) {
    loop.ctx().metrics.client_errors++;
    conn.write(error_response(*err, req.keep_alive()));
    return;
  }

  const bool chunked = req.version == "HTTP/1.1";
  conn.write(sse_response_head(chunked));

  auto stream = std::make_unique<SseStream>(loop, conn, chunked, claims ? claims->exp : 0);
  SseStream& s = *stream;
  conn.take_over(std::move(stream), TransportKind::Sse);

  std::string preamble;
  if (req.param("padding") == "1") {
    preamble += ':';
    preamble.append(kPaddingBytes, ' ');
    preamble += '\n';
  }
  preamble += "retry: " + std::to_string(kRetryMs) + "\n\n";
  s.write_event(preamble);

  s.session().set_member(presence_member(claims));
  Replay replay = s.session().subscribe(sub.channels, sub.since, SIZE_MAX, loop.ctx().hub.history());
  std::string data = "{\"channels\":[";
  for (size_t i = 0; i < sub.channels.size(); ++i) {
    if (i) data += ',';
    append_json_string(data, sub.channels[i]);
  }
  data += "],\"recovered\":";
  data += replay.recovered ? "true" : "false";
  data += ",\"cursor\":";
  append_json_string(data, replay.head.str());
  data += '}';
  // The id line sets EventSource's Last-Event-ID, so a reconnect before any message
  // still resumes from here instead of from "now". With a replay to follow it is the
  // client's own cursor: a stream cut before the replay arrives must not skip it.
  const bool resumes = sub.since && sub.since->epoch == replay.head.epoch && !replay.messages.empty();
  const std::string event_id = resumes ? sub.since->str() : replay.head.str();
  s.write_event("id: " + event_id + "\nevent: subscribed\ndata: " + data + "\n\n");
  for (const auto& m : replay.messages) s.session().deliver(m);
}

}  // namespace herald
