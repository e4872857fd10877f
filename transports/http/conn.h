#pragma once
// One client connection, owned by the event loop whose thread reads and writes it.
// Nothing else writes to its socket: other threads post work to that loop and name
// the connection by id, never by pointer or descriptor (a descriptor is reused by
// the next accept; an id is not).
//
// Writes go to a bounded outbox of byte ranges that share the fan-out's immutable
// buffers; the loop flushes all connections written during one round with writev.
// When the outbox would pass its limit the consumer is too slow: write() returns
// false and the connection is closed (its client resumes from its cursor). Before
// that, backlogged() tells sessions of "latest" channels to hold messages instead
// (Session::deliver), and on_outbox_empty() tells them when to let them go.
//
// On a TLS port every read and write goes through the connection's TlsStream
// (tls_stream.h); transports never see the difference.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/metrics.h"
#include "transports/http/tls_stream.h"

namespace herald {

class Conn;
class EventLoop;

// The protocol of a connection taken over from HTTP: an SSE stream, a WebSocket, a
// held long-poll. Called on the loop thread only.
class ConnHandler {
 public:
  virtual ~ConnHandler() = default;
  // Bytes that arrived after the take-over; consume what you use from `input`.
  virtual void on_input(Conn& conn, std::string& input) { (void)conn; input.clear(); }
  // Called about every 250 ms: heartbeats and timeouts.
  virtual void on_tick(Conn& conn, int64_t now_ms) = 0;
  // Asked for with EventLoop::at_round_end: after this round's fan-out, before its
  // writes are flushed (a long-poll answers here with everything the round brought).
  virtual void on_round_end(Conn& conn) { (void)conn; }
  // The server is shutting down: end the protocol so the client reconnects elsewhere
  // and resumes from its cursor (WebSocket close 1001, SSE end with a retry hint, a
  // held long-poll answered).
  virtual void on_drain(Conn& conn);
  // Asked for with Conn::notify_when_empty: everything queued has been written.
  virtual void on_outbox_empty(Conn& conn) { (void)conn; }
  // The connection is gone (either side closed it). No writes from here on.
  virtual void on_closed(Conn& conn) = 0;
};

class Conn {
 public:
  Conn(EventLoop& loop, uint64_t id, int fd, std::string remote_ip, std::shared_ptr<void> peer);
  ~Conn();

  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] EventLoop& loop() { return loop_; }
  [[nodiscard]] const std::string& remote_ip() const { return remote_ip_; }

  // Queue bytes. `owner` keeps shared bytes alive until written. False when the
  // outbox limit is passed: the connection is then closing.
  bool write(std::string bytes);
  bool write_shared(std::shared_ptr<const void> owner, std::string_view bytes);

  // Behind: the kernel refused bytes and at least kConflateAboveBytes (or half the
  // outbox limit, if smaller) wait, or the outbox is half full whatever the kernel did.
  [[nodiscard]] bool backlogged() const;
  // Call the handler's on_outbox_empty once the outbox has been written out.
  void notify_when_empty() { notify_empty_ = true; }

  void close();              // drop the outbox and close at the end of this round
  void close_after_flush();  // close once everything queued is written
  // Once everything queued is written, end our direction (FIN) but keep reading, so
  // the peer's last bytes are consumed and the close never turns into a reset.
  void half_close_after_flush();
  [[nodiscard]] bool closing() const { return closing_ || close_after_flush_; }

  // Hand the connection to a long-lived protocol; HTTP parsing stops.
  void take_over(std::unique_ptr<ConnHandler> handler, TransportKind kind);
  // Back to HTTP (a long-poll that answered): parsing of buffered requests resumes.
  void release();
  [[nodiscard]] ConnHandler* handler() { return handler_.get(); }

  // A route that answers later (a publish waiting for the broker) parks the parser.
  void begin_async() { awaiting_ = true; }
  void finish_async(std::string response, bool keep_alive);

 private:
  friend class EventLoop;
  struct Chunk {
    std::shared_ptr<const void> owner;  // keeps `shared` alive; null when `own` holds the bytes
    std::string own;
    const char* shared = nullptr;
    size_t size = 0;
    size_t sent = 0;
    // Computed, not stored: a small `own` string moves its bytes when the vector grows.
    const char* data() const { return (shared ? shared : own.data()) + sent; }
    size_t left() const { return size - sent; }
  };
  bool enqueue(Chunk chunk);
  enum class FlushResult { Done, Blocked, Failed };
  FlushResult flush();

  EventLoop& loop_;
  uint64_t id_;
  int fd_;
  std::string remote_ip_;
  std::shared_ptr<void> peer_;  // the HTTP library's handle; released at close
  std::unique_ptr<TlsStream> tls_;  // null on a plain connection
  std::string input_;
  std::vector<Chunk> outbox_;
  size_t outbox_head_ = 0;      // first chunk not fully written
  size_t outbox_bytes_ = 0;
  std::unique_ptr<ConnHandler> handler_;
  TransportKind kind_ = TransportKind::Sse;
  int64_t last_active_ms_ = 0;
  bool awaiting_ = false;
  bool blocked_ = false;       // the last flush left bytes the kernel would not take
  bool notify_empty_ = false;
  bool dirty_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;
  bool half_close_after_flush_ = false;
  bool half_closed_ = false;
  bool counted_ = false;  // counted in a transport's connection gauge
};

}  // namespace herald
