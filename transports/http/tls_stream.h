#pragma once
// TLS for Herald's own connections (https and wss on the one port). Pistache only
// accepts: the handshake, every read and every write happen in the EventLoop that owns
// the connection, through the TlsStream below, on the non-blocking socket. A plain
// connection has no TlsStream and keeps its recv/sendmsg path; the loop branches once
// per read and per write.
//
// Pistache's own SSL mode is not used: it runs SSL_accept blocking in its accept
// thread (one slow client stalls every accept) and reads through SSL itself, while
// Herald reads and writes the descriptor directly.
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/types.h>

#include <memory>
#include <string>

namespace herald {

class TlsStream;

// One per server: certificate, key and settings (TLS 1.2 and newer, ALPN http/1.1,
// stateless session tickets, no renegotiation). Immutable after construction, so
// every loop thread may accept() from it.
class TlsContext {
 public:
  // Loads a PEM certificate chain and its private key. Throws std::runtime_error
  // naming the file and what is wrong with it (start-up only).
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side stream over the accepted, non-blocking socket `fd` (which stays
  // owned by the caller). Null when OpenSSL cannot allocate one.
  [[nodiscard]] std::unique_ptr<TlsStream> accept(int fd) const;

 private:
  SSL_CTX* ctx_ = nullptr;
};

// One connection's TLS state. Loop thread only. The handshake runs inside the first
// reads and writes. read() and write() answer like recv() and sendmsg(): on -1 with
// errno EAGAIN the caller waits for readiness (read_blocked_on_write /
// write_blocked_on_read say which direction OpenSSL waits for); any other errno
// means the connection failed.
class TlsStream {
 public:
  explicit TlsStream(SSL* ssl);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Decrypted bytes (at most one record), 0 once the peer closed (close_notify or EOF).
  [[nodiscard]] ssize_t read(char* buf, size_t size);
  // Encrypts from the front of `iov`: at most one record (16 KiB) per call, small
  // ranges gathered into one record. Returns how many bytes were taken. After EAGAIN
  // the next call must start with the same bytes (the outbox guarantees it: it only
  // grows at its end until a write succeeds).
  [[nodiscard]] ssize_t write(const iovec* iov, size_t count);

  [[nodiscard]] bool handshake_done() const;
  // True once, when the peer's first byte starts an HTTP request line rather than a
  // TLS record: someone typed http:// for an https:// port. Peeks, consumes nothing.
  [[nodiscard]] bool peer_sent_plain_http(int fd);
  [[nodiscard]] bool read_blocked_on_write() const { return read_wants_write_; }
  [[nodiscard]] bool write_blocked_on_read() const { return write_wants_read_; }
  // Sends close_notify if the stream is healthy and has not sent it yet. Never waits
  // for the peer's answer: the caller closes or half-closes the socket next.
  void shutdown();

 private:
  [[nodiscard]] ssize_t fail(int ret, bool reading);

  SSL* ssl_;
  bool first_byte_seen_ = false;
  bool failed_ = false;
  bool shut_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  size_t blocked_write_ = 0;  // length of the write OpenSSL holds after EAGAIN; retried exactly
};

}  // namespace herald
