// Long-polling: one response per cycle. A poll with messages after its cursor is
// answered at once; otherwise the connection is held by a Session until a message
// arrives (answered at the end of that loop round, with everything the round
// brought) or the timeout passes. The cursor in every answer is a safe resume point,
// so consecutive polls neither lose nor repeat a message.
#include "transports/longpoll/longpoll_transport.h"

#include <algorithm>

#include "src/conflation.h"
#include "src/presence.h"
#include "src/session.h"
#include "src/subscribe_request.h"
#include "transports/http/http_response.h"
#include "transports/http/request_auth.h"

namespace herald {
namespace {

constexpr size_t kMaxBatch = 1000;

bool valid_callback(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
    const bool ok = alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '.'));
    if (!ok) return false;
  }
  return true;
}

// A client behind by more than kConflateAboveBytes gets only the newest message of
// each "latest" channel; "skipped" tells how many it missed per channel.
ConflatedBatch conflate_answer(EventLoop& loop, std::vector<MessagePtr> messages) {
  ConflatedBatch batch = conflate_batch(std::move(messages), [&loop](std::string_view ch) {
    return loop.subscriptions().conflates(ch);
  });
  for (const auto& [channel, n] : batch.skipped) loop.ctx().metrics.conflated += n;
  loop.ctx().metrics.delivered[static_cast<int>(TransportKind::LongPoll)] += batch.messages.size();
  return batch;
}

// `events`: presence joins and leaves that arrived while the poll was held (best
// effort: not in the log, no cursor, not replayed), left out when there are none.
std::string poll_body(const ConflatedBatch& batch, const std::vector<MessagePtr>& events, const Cursor& cursor,
                      bool recovered, const std::string& callback) {
  const auto& messages = batch.messages;
  size_t size = 64;
  for (const auto& m : messages) size += m->envelope.size() + 1;
  for (const auto& e : events) size += e->envelope.size() + 16;
  std::string body;
  body.reserve(size + callback.size());
  if (!callback.empty()) body += callback + "(";
  body += "{\"messages\":[";
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i) body += ',';
    body += messages[i]->envelope;
  }
  body += ']';
  if (!events.empty()) {
    body += ",\"presence\":[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i) body += ',';
      body += events[i]->kind == MessageKind::Join ? "{\"type\":\"join\"," : "{\"type\":\"leave\",";
      body.append(events[i]->envelope, 1, std::string::npos);
    }
    body += ']';
  }
  body += ",\"cursor\":";
  append_json_string(body, cursor.str());
  body += ",\"recovered\":";
  body += recovered ? "true" : "false";
  if (!batch.skipped.empty()) {
    body += ",\"skipped\":{";
    for (size_t i = 0; i < batch.skipped.size(); ++i) {
      if (i) body += ',';
      append_json_string(body, batch.skipped[i].first);
      body += ':' + std::to_string(batch.skipped[i].second);
    }
    body += '}';
  }
  body += '}';
  if (!callback.empty()) body += ");";
  return body;
}

std::string poll_response(const ConflatedBatch& batch, const std::vector<MessagePtr>& events, const Cursor& cursor,
                          bool recovered, const std::string& callback, bool keep_alive) {
  return http_response(200, callback.empty() ? "application/json" : "application/javascript; charset=utf-8",
                       poll_body(batch, events, cursor, recovered, callback), keep_alive);
}

class HeldPoll final : public ConnHandler, public SessionWire {
 public:
  HeldPoll(EventLoop& loop, Conn& conn, Cursor base, int64_t deadline, std::string callback, bool keep_alive)
      : loop_(loop), conn_(conn), session_(loop.subscriptions(), *this), base_(std::move(base)),
        deadline_(deadline), callback_(std::move(callback)), keep_alive_(keep_alive) {}

  Session& session() { return session_; }

  void write_message(const MessagePtr& m) override {
    if (answered_) return;
    if (pending_.empty() && events_.empty()) loop_.at_round_end(conn_);
    (m->kind == MessageKind::Log ? pending_ : events_).push_back(m);
  }

  void on_round_end(Conn&) override {
    if (answered_ || (pending_.empty() && events_.empty())) return;
    const Cursor last = pending_.empty() ? safe_cursor() : pending_.back()->cursor;
    answer(conflate_answer(loop_, std::move(pending_)), last);
  }

  void on_drain(Conn&) override {
    keep_alive_ = false;
    on_tick(conn_, deadline_);
  }

  void on_tick(Conn&, int64_t now_ms) override {
    if (answered_ || now_ms < deadline_) return;
    answer(ConflatedBatch{}, safe_cursor());
  }

  void on_closed(Conn&) override { session_.unsubscribe_all(); }

 private:
  // With no message to answer with: every message up to the loop's dispatched head
  // was offered to this poll and none matched, so that head is a safe place to
  // continue from.
  Cursor safe_cursor() const {
    const Cursor& head = loop_.dispatched_head();
    const bool ahead = head.epoch == base_.epoch && head.seq > base_.seq;
    return ahead ? head : base_;
  }

  void answer(const ConflatedBatch& batch, const Cursor& cursor) {
    answered_ = true;
    session_.unsubscribe_all();
    conn_.write(poll_response(batch, events_, cursor, true, callback_, keep_alive_));
    if (keep_alive_) {
      conn_.release();
    } else {
      conn_.close_after_flush();
    }
  }

  EventLoop& loop_;
  Conn& conn_;
  Session session_;
  Cursor base_;
  int64_t deadline_;
  std::string callback_;
  bool keep_alive_;
  bool answered_ = false;
  std::vector<MessagePtr> pending_;
  std::vector<MessagePtr> events_;  // presence
};

}  // namespace

void handle_poll(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](ClientError err) {
    ctx.metrics.client_errors++;
    conn.write(error_response(err, keep_alive));
  };
  if (req.method != "GET") return fail({405, "method_not_allowed", "use GET for /poll"});

  std::string callback;
  if (auto cb = req.param("callback")) {
    if (!valid_callback(*cb))
      return fail({400, "invalid_callback", "callback must be a JavaScript identifier path like 'herald_cb_1'"});
    callback = *cb;
  }
  int64_t timeout_ms = ctx.config.poll_timeout_ms;
  if (auto t = req.param("timeout")) {
    char* end = nullptr;
    const double seconds = std::strtod(t->c_str(), &end);
    if (t->empty() || *end != '\0' || !(seconds >= 0))
      return fail({400, "invalid_timeout", "timeout is a number of seconds, 0 or more"});
    timeout_ms = std::min<int64_t>(static_cast<int64_t>(seconds * 1000), ctx.config.max_poll_timeout_ms);
  }
  const auto since_param = req.param("since");
  SubscribeRequest sub;
  if (auto err = read_subscribe_request(req.params("channel"), {since_param ? &*since_param : nullptr}, true, sub))
    return fail(*err);
  std::optional<TokenClaims> claims;
  if (auto err = authorize_subscribe(ctx.access, req, sub.channels, claims)) return fail(*err);

  Replay replay = ctx.hub.history().since(sub.channels, sub.since, kMaxBatch);
  const bool answer_now = !replay.messages.empty() || !replay.recovered || timeout_ms == 0;
  if (answer_now) {
    Cursor cursor = replay.messages.empty() ? (sub.since && replay.recovered ? *sub.since : replay.head)
                                            : replay.messages.back()->cursor;
    // No subscription is held, but the client is here: listed for the linger time.
    if (Presence* presence = ctx.hub.presence())
      if (auto member = presence_member(claims))
        for (const auto& ch : sub.channels) presence->touch(ch, *member);
    conn.write(poll_response(conflate_answer(loop, std::move(replay.messages)), {}, cursor, replay.recovered, callback,
                             keep_alive));
    return;
  }

  Cursor base = sub.since ? *sub.since : replay.head;
  auto held = std::make_unique<HeldPoll>(loop, conn, base, loop.now_ms() + timeout_ms, callback, keep_alive);
  HeldPoll& h = *held;
  conn.take_over(std::move(held), TransportKind::LongPoll);
  // Nothing to replay was found, but a message may have arrived since the check:
  // subscribing with the same cursor replays it (and registers for what follows).
  h.session().set_member(presence_member(claims));
  Replay late = h.session().subscribe(sub.channels, base, kMaxBatch, ctx.hub.history());
  for (const auto& m : late.messages) h.session().deliver(m);
}

}  // namespace herald
