#pragma once
// One WebSocket connection after the handshake: frames in through the codec, Herald
// JSON commands to the core's Session, messages out as the pre-encoded frame every
// subscriber shares. Loop thread only.
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "src/session.h"
#include "transports/http/event_loop.h"
#include "transports/websocket/ws_codec.h"

namespace herald {

class WsSession final : public ConnHandler, public SessionWire {
 public:
  WsSession(EventLoop& loop, Conn& conn, std::optional<TokenClaims> claims);

  // Subscribes at open (channels from the query), one "subscribed" frame each.
  void subscribe(const std::string& channel, const std::optional<Cursor>& since);

  void write_message(const MessagePtr& m) override;
  [[nodiscard]] bool backlogged() const override { return conn_.backlogged(); }
  void notify_when_empty() override { conn_.notify_when_empty(); }
  void write_gap(const std::string& channel, uint64_t skipped) override;
  void on_outbox_empty(Conn& conn) override;
  void on_input(Conn& conn, std::string& input) override;
  void on_tick(Conn& conn, int64_t now_ms) override;
  void on_drain(Conn& conn) override;
  void on_closed(Conn& conn) override;

 private:
  void on_text(std::string_view text);
  void on_command(const nlohmann::json& cmd);
  void send_text(const std::string& json);
  void send_error(const std::string& code, const std::string& message, const nlohmann::json* ref = nullptr);
  // Starts the closing handshake: our Close frame goes out, then we wait (bounded)
  // for the peer's Close or EOF so unread bytes never turn the close into a reset.
  void start_close(uint16_t code, std::string_view reason);
  [[nodiscard]] std::optional<TokenClaims> current_claims() const;

  EventLoop& loop_;
  Conn& conn_;
  Session session_;
  // The client's verified token, if it gave one; behind a pointer because most
  // connections have none and idle connections should stay small.
  std::unique_ptr<TokenClaims> claims_;
  ws::FrameParser parser_;
  std::atomic<uint64_t>& delivered_;
  int64_t next_ping_;
  int64_t pong_deadline_ = 0;  // 0: no ping outstanding
  int64_t close_deadline_ = 0; // set once our Close frame is queued
  double publish_tokens_ = -1;  // token bucket for client publishes (-1: not started)
  int64_t publish_refill_ms_ = 0;
};

}  // namespace herald
