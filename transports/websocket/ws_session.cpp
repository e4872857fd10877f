#include "transports/websocket/ws_session.h"

#include <nlohmann/json.hpp>

#include "src/channel_name.h"
#include "src/clock.h"
#include "src/subscribe_request.h"

namespace herald {
namespace {
constexpr int64_t kCloseWaitMs = 2000;  // how long we wait for the peer's Close reply
using nlohmann::json;
}  // namespace

WsSession::WsSession(EventLoop& loop, Conn& conn, std::optional<TokenClaims> claims)
    : loop_(loop), conn_(conn), session_(loop.subscriptions(), *this), claims_(claims ? std::make_unique<TokenClaims>(std::move(*claims)) : nullptr), parser_(loop.ctx().config.ws_max_message),
      delivered_(loop.ctx().metrics.delivered[static_cast<int>(TransportKind::WebSocket)]),
      next_ping_(loop.now_ms() + loop.ctx().config.heartbeat_ms) {}

void WsSession::write_message(const MessagePtr& m) {
  if (close_deadline_ == 0 && conn_.write_shared(m, m->ws_frame)) delivered_++;
}

void WsSession::write_gap(const std::string& channel, uint64_t skipped) {
  send_text(json({{"op", "gap"}, {"channel", channel}, {"skipped", skipped}}).dump());
  loop_.ctx().metrics.conflated += skipped;
}

void WsSession::on_outbox_empty(Conn&) { session_.release_held(); }

void WsSession::send_text(const std::string& text) {
  if (close_deadline_ == 0) conn_.write(ws::encode_frame(ws::Opcode::Text, text));
}

void WsSession::send_error(const std::string& code, const std::string& message, const json* ref) {
  json e = {{"op", "error"}, {"code", code}, {"message", message}};
  if (ref) e["ref"] = *ref;
  send_text(e.dump());
}

void WsSession::start_close(uint16_t code, std::string_view reason) {
  if (close_deadline_ != 0) return;
  conn_.write(ws::encode_close(code, reason));
  conn_.half_close_after_flush();
  close_deadline_ = loop_.now_ms() + kCloseWaitMs;
  session_.unsubscribe_all();
}

void WsSession::subscribe(const std::string& channel, const std::optional<Cursor>& since) {
  session_.set_member(presence_member(current_claims()));  // the token may have changed since the last one
  Replay replay = session_.subscribe({channel}, since, SIZE_MAX, loop_.ctx().hub.history());
  json ack = {{"op", "subscribed"}, {"channel", channel}, {"recovered", replay.recovered}, {"cursor", replay.head.str()}};
  send_text(ack.dump());
  for (const auto& m : replay.messages) session_.deliver(m);
}

void WsSession::on_input(Conn&, std::string& input) {
  std::string_view view = input;
  ws::Event ev;
  while (true) {
    const auto status = parser_.parse(view, ev);
    if (status == ws::ParseStatus::NeedMore) break;
    if (status == ws::ParseStatus::Error) {
      loop_.ctx().metrics.client_errors++;
      start_close(parser_.error().close_code, parser_.error().reason);
      view = {};
      break;
    }
    pong_deadline_ = 0;  // any frame shows the peer is alive
    if (close_deadline_ != 0) {
      // Closing: the peer's Close (or anything after ours) ends the handshake.
      if (ev.kind == ws::EventKind::Close) conn_.close_after_flush();
      continue;
    }
    switch (ev.kind) {
      case ws::EventKind::Text: on_text(ev.payload); break;
      case ws::EventKind::Binary:
        start_close(ws::close_code::unsupported_data, "binary messages are not part of the herald.v1 protocol");
        break;
      case ws::EventKind::Ping: conn_.write(ws::encode_frame(ws::Opcode::Pong, ev.payload)); break;
      case ws::EventKind::Pong: break;
      case ws::EventKind::Close:
        // Echo the peer's code (an empty Close is answered with an empty one), then close TCP.
        conn_.write(ws::encode_close(ev.close_code == ws::close_code::no_status ? ws::close_code::no_status
                                                                                : ev.close_code, ""));
        close_deadline_ = loop_.now_ms() + kCloseWaitMs;
        session_.unsubscribe_all();
        conn_.close_after_flush();
        break;
    }
    if (conn_.closing() && close_deadline_ == 0) break;
  }
  input.erase(0, input.size() - view.size());
  if (close_deadline_ != 0) input.clear();
}

void WsSession::on_text(std::string_view text) {
  auto cmd = json::parse(text, nullptr, false);
  if (cmd.is_discarded() || !cmd.is_object()) return send_error("invalid_json", "commands are JSON objects like {\"op\":\"ping\"}");
  on_command(cmd);
}

void WsSession::on_command(const json& cmd) {
  const json* ref = cmd.contains("ref") ? &cmd["ref"] : nullptr;
  auto op_it = cmd.find("op");
  if (op_it == cmd.end() || !op_it->is_string())
    return send_error("invalid_command", "every command needs \"op\": subscribe, unsubscribe, ping or publish", ref);
  const std::string op = *op_it;
  if (op == "ping") return send_text(ref ? json({{"op", "pong"}, {"ref", *ref}}).dump() : R"({"op":"pong"})");

  auto ch_it = cmd.find("channel");
  if (ch_it == cmd.end() || !ch_it->is_string())
    return send_error("missing_channel", "\"" + op + "\" needs \"channel\": a string", ref);
  const std::string channel = *ch_it;
  if (auto err = check_channel(channel)) return send_error(err->code, err->message, ref);

  if (op == "subscribe" || op == "publish") {
    if (auto t = cmd.find("token"); t != cmd.end()) {
      if (!t->is_string()) return send_error("invalid_token", "\"token\" is a string", ref);
      const std::string token = *t;
      std::optional<TokenClaims> claims;
      if (auto err = loop_.ctx().access.read_token(&token, unix_ms() / 1000, claims))
        return send_error(err->code, err->message, ref);
      claims_ = std::make_unique<TokenClaims>(std::move(*claims));
    }
  }
  if (op == "subscribe") {
    if (auto err = loop_.ctx().access.check_subscribe(channel, current_claims()))
      return send_error(err->code, err->message, ref);
    std::optional<Cursor> since;
    if (auto s = cmd.find("since"); s != cmd.end() && !s->is_null()) {
      if (!s->is_string()) return send_error("invalid_cursor", "\"since\" is a cursor string", ref);
      if (auto err = check_cursor(s->get<std::string>(), since)) return send_error(err->code, err->message, ref);
    }
    if (session_.subscribed(channel)) session_.unsubscribe(channel);  // re-subscribe: resume from the new cursor
    if (session_.channel_count() >= kMaxChannelsPerConnection)
      return send_error("too_many_channels",
                        "at most " + std::to_string(kMaxChannelsPerConnection) + " channels per connection", ref);
    return subscribe(channel, since);
  }
  if (op == "unsubscribe") {
    if (!session_.unsubscribe(channel)) return send_error("not_subscribed", "not subscribed to " + channel, ref);
    return send_text(json({{"op", "unsubscribed"}, {"channel", channel}}).dump());
  }
  if (op == "publish") {
    if (auto err = loop_.ctx().access.check_client_publish(channel, current_claims()))
      return send_error(err->code, err->message, ref);
    const double rate = loop_.ctx().config.client_publish_rate;
    const int64_t now = loop_.now_ms();
    publish_tokens_ = publish_tokens_ < 0 ? 2 * rate
                                          : std::min(2 * rate, publish_tokens_ + (now - publish_refill_ms_) * rate / 1000);
    publish_refill_ms_ = now;
    if (publish_tokens_ < 1) {
      loop_.ctx().metrics.rate_limited++;
      return send_error("rate_limited",
                        "at most " + std::to_string(static_cast<int>(rate)) + " publishes per second; slow down", ref);
    }
    publish_tokens_ -= 1;
    auto data = cmd.find("data");
    if (data == cmd.end()) return send_error("missing_data", "\"publish\" needs \"data\": any JSON value", ref);
    std::vector<PublishItem> items{{channel, data->dump(), unix_ms()}};
    json ref_copy = ref ? *ref : json();
    const uint64_t id = conn_.id();
    EventLoop* home = &loop_;
    Metrics* metrics = &loop_.ctx().metrics;
    loop_.ctx().broker.publish(std::move(items), [home, id, ref_copy, metrics](PublishResult r) {
      json answer = r.ok ? json{{"op", "published"}, {"id", r.cursors[0].str()}}
                         : json{{"op", "error"}, {"code", "broker_unavailable"}, {"message", r.error.message}};
      if (!ref_copy.is_null()) answer["ref"] = ref_copy;
      if (r.ok) {
        metrics->published++;
      } else {
        metrics->publish_errors++;
      }
      home->post([id, text = answer.dump()](EventLoop& l) {
        if (Conn* c = l.find(id)) c->write(ws::encode_frame(ws::Opcode::Text, text));
      });
    });
    return;
  }
  send_error("unknown_op", "unknown op '" + op.substr(0, 32) + "'; use subscribe, unsubscribe, ping or publish", ref);
}

std::optional<TokenClaims> WsSession::current_claims() const {
  return claims_ ? std::optional<TokenClaims>(*claims_) : std::nullopt;
}

void WsSession::on_tick(Conn&, int64_t now_ms) {
  if (close_deadline_ != 0) {
    if (now_ms >= close_deadline_) conn_.close();
    return;
  }
  if (claims_ && claims_->exp != 0 && unix_ms() / 1000 >= claims_->exp) {
    start_close(ws::close_code::policy_violation, "token expired; reconnect with a new one");
    return;
  }
  if (pong_deadline_ != 0 && now_ms >= pong_deadline_) {
    // The peer stopped answering: free everything now; it resumes from its cursor.
    conn_.close();
    return;
  }
  if (now_ms >= next_ping_) {
    next_ping_ = now_ms + loop_.ctx().config.heartbeat_ms;
    conn_.write(ws::encode_frame(ws::Opcode::Ping, ""));
    if (pong_deadline_ == 0) pong_deadline_ = now_ms + loop_.ctx().config.ws_pong_timeout_ms;
  }
}

void WsSession::on_drain(Conn&) { start_close(ws::close_code::going_away, "server shutting down; reconnect to resume"); }

void WsSession::on_closed(Conn&) { session_.unsubscribe_all(); }

}  // namespace herald
