#pragma once
// One AMQP 0-9-1 connection through rabbitmq-c 0.11, with the few operations Herald
// needs. rabbitmq-c is not thread-safe: an AmqpConnection and everything it returns
// belong to the thread that opened it. Every failure throws AmqpError; the owner then
// drops the connection and opens a new one (no attempt is made to save a channel).
#include <amqp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/rabbitmq/amqp_url.h"

namespace herald {

struct AmqpError : std::runtime_error {
  explicit AmqpError(const std::string& what, int code = 0) : std::runtime_error(what), reply_code(code) {}
  int reply_code;  // the broker's reply code (404, 406, 320, ...); 0 for socket and library errors
};

// A field table whose strings it owns, so the amqp_table_t it hands out stays valid
// for as long as the FieldTable lives unchanged.
class FieldTable {
 public:
  FieldTable& add(std::string key, std::string utf8);
  FieldTable& add(std::string key, int64_t value);
  amqp_table_t table();

 private:
  std::deque<std::string> strings_;  // a deque keeps addresses stable as it grows
  std::vector<amqp_table_entry_t> entries_;
};

// A delivered or returned message, copied out of the library's buffers (which are
// recycled at the next read).
struct AmqpMessage {
  uint64_t delivery_tag = 0;
  std::string routing_key;
  std::string message_id;
  std::vector<std::pair<std::string, std::string>> text_headers;
  std::vector<std::pair<std::string, int64_t>> int_headers;
  std::string body;

  const std::string* text_header(std::string_view key) const;
  std::optional<int64_t> int_header(std::string_view key) const;
};

struct AmqpEvent {
  enum class Kind { delivery, returned, ack, nack, blocked, unblocked };
  Kind kind = Kind::delivery;
  uint16_t channel = 0;
  uint64_t delivery_tag = 0;  // ack, nack
  bool multiple = false;      // ack, nack
  int reply_code = 0;         // returned
  std::string text;           // returned: reply text; blocked: reason
  AmqpMessage message;        // delivery, returned
};

class AmqpConnection {
 public:
  AmqpConnection() = default;
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Connects and logs in. `timeout` bounds the TCP connect, the handshake and every
  // later synchronous call (declare, consume, ...).
  void open(const AmqpUrl& url, std::chrono::seconds heartbeat, std::chrono::milliseconds timeout,
            const std::string& connection_name);
  // Polite close when the connection is still sound; the socket is released either way.
  void close();

  void open_channel(uint16_t channel);
  void confirm_select(uint16_t channel);
  void declare_exchange(uint16_t channel, const std::string& name, const char* type);
  // Passive declare: the queue's message count, or nullopt when the queue does not
  // exist (the broker closes the channel for that; it is reopened here).
  std::optional<uint32_t> queue_message_count(uint16_t channel, const std::string& name);
  void declare_queue(uint16_t channel, const std::string& name, FieldTable& arguments);
  void bind_queue(uint16_t channel, const std::string& queue, const std::string& exchange, const std::string& key);
  void qos(uint16_t channel, uint16_t prefetch);
  void consume(uint16_t channel, const std::string& queue, const std::string& consumer_tag, FieldTable& arguments);
  void cancel(uint16_t channel, const std::string& consumer_tag);
  // Persistent JSON message with a message-id and headers; mandatory, so a message no
  // queue takes comes back as a `returned` event.
  void publish(uint16_t channel, const std::string& exchange, std::string_view routing_key,
               const std::string& message_id, FieldTable& headers, std::string_view body);
  // Transient, not mandatory, no message-id: for best-effort traffic that no confirm
  // or return should ever be matched against.
  void publish_transient(uint16_t channel, const std::string& exchange, std::string_view body);
  // A server-named queue that lives as long as this connection (exclusive, auto-delete).
  std::string declare_private_queue(uint16_t channel, FieldTable& arguments);
  void ack(uint16_t channel, uint64_t delivery_tag, bool multiple);

  // Reads what has arrived without blocking. Returns false once nothing complete is
  // left to read; throws when the broker closes a channel or the connection, cancels a
  // consumer, or the socket fails. Also sends heartbeats when they are due, so it must
  // be called at least every heartbeat/2.
  bool next_event(AmqpEvent& event);

  // The socket, for poll(); -1 when not open.
  int fd() const;
  // True when frames are already buffered in the library, so poll() must not wait.
  bool has_buffered() const;

 private:
  // One message being assembled from its method, header and body frames; frames of
  // different channels may interleave.
  struct Incoming {
    bool active = false;
    bool returned = false;
    bool have_header = false;
    int reply_code = 0;
    std::string reply_text;
    size_t body_size = 0;
    AmqpMessage message;
  };

  void check_reply(uint16_t channel, const char* what);
  [[noreturn]] void fail(const std::string& what, int code);
  bool handle_frame(const amqp_frame_t& frame, AmqpEvent& event);
  bool finish_incoming(uint16_t channel, AmqpEvent& event);

  amqp_connection_state_t state_ = nullptr;
  bool sound_ = false;  // logged in and no connection-level failure seen
  std::array<Incoming, 8> incoming_{};
};

}  // namespace herald
