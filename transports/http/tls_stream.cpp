#include "transports/http/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace herald {
namespace {

// The largest TLS record's payload: one write encrypts at most this much.
constexpr size_t kRecordBytes = 16384;

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "OpenSSL error " + std::to_string(code);
}

void require_readable_file(const std::string& path, const char* what) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(std::string("cannot read TLS ") + what + " " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(std::string("TLS ") + what + " " + path + " is not a file");
}

// Herald speaks HTTP/1.1 only: a browser that offers h2 first must still get http/1.1.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* offered,
                  unsigned int offered_len, void*) {
  static const unsigned char kOurs[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kOurs, sizeof kOurs, offered, offered_len) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN in the answer; the client decides whether that will do
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

}  // namespace

TlsContext::TlsContext(const std::string& cert_file, const std::string& key_file) {
  require_readable_file(cert_file, "certificate");
  require_readable_file(key_file, "key");
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error("cannot set up TLS: " + openssl_reason());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A peer that drops TCP without close_notify is an ordinary end of stream for
  // us: HTTP and WebSocket frame their own messages.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Partial writes let the outbox advance record by record; the moving buffer lets
  // a retried write gather the same bytes into a different place; released buffers
  // keep an idle connection's memory small (measured in the README).
  SSL_CTX_set_mode(ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Resumption by stateless tickets only: no server-side session cache to bound.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    throw std::runtime_error("TLS certificate " + cert_file + " is not a usable PEM certificate: " + openssl_reason());
  const std::string mismatch = "TLS key " + key_file + " does not belong to certificate " + cert_file;
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      throw std::runtime_error(mismatch);
    }
    throw std::runtime_error("TLS key " + key_file + " is not a usable PEM private key: " + openssl_reason());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) throw std::runtime_error(mismatch + ": " + openssl_reason());
  ctx_ = ctx.release();
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsStream> TlsContext::accept(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  // The socket stays ours (BIO_NOCLOSE): the loop closes it through the HTTP library.
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsStream>(ssl);
}

TlsStream::TlsStream(SSL* ssl) : ssl_(ssl) {}

TlsStream::~TlsStream() { SSL_free(ssl_); }

bool TlsStream::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

bool TlsStream::peer_sent_plain_http(int fd) {
  if (first_byte_seen_) return false;
  unsigned char first = 0;
  if (::recv(fd, &first, 1, MSG_PEEK | MSG_DONTWAIT) != 1) return false;
  first_byte_seen_ = true;
  return first >= 'A' && first <= 'Z';  // a TLS record starts with 0x14..0x18
}

ssize_t TlsStream::read(char* buf, size_t size) {
  read_wants_write_ = false;
  if (failed_) {
    errno = ECONNRESET;
    return -1;
  }
  ERR_clear_error();  // the error queue is per thread; stale entries would mislead SSL_get_error
  const int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  return n > 0 ? n : fail(n, true);
}

ssize_t TlsStream::write(const iovec* iov, size_t count) {
  write_wants_read_ = false;
  if (failed_ || shut_ || count == 0) {
    errno = EPIPE;
    return -1;
  }
  // OpenSSL holds an encrypted record after EAGAIN and must be offered the same
  // length again; the bytes are the same because the outbox front did not move.
  const size_t want = blocked_write_ ? blocked_write_ : kRecordBytes;
  const char* data;
  size_t len;
  if (iov[0].iov_len >= want || count == 1) {
    data = static_cast<const char*>(iov[0].iov_base);
    len = std::min(iov[0].iov_len, want);
  } else {
    // Small messages (one WebSocket frame, one SSE event) share a record: one
    // encryption and one syscall instead of one per message. One buffer per loop thread.
    thread_local char gathered[kRecordBytes];
    len = 0;
    for (size_t i = 0; i < count && len < want; ++i) {
      const size_t take = std::min(iov[i].iov_len, want - len);
      std::memcpy(gathered + len, iov[i].iov_base, take);
      len += take;
    }
    data = gathered;
  }
  ERR_clear_error();
  const int n = SSL_write(ssl_, data, static_cast<int>(len));
  if (n > 0) {
    blocked_write_ = 0;
    return n;
  }
  const ssize_t r = fail(n, false);
  if (r < 0 && errno == EAGAIN) {
    blocked_write_ = len;
  } else if (r == 0) {
    errno = EPIPE;
    return -1;
  }
  return r;
}

ssize_t TlsStream::fail(int ret, bool reading) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      write_wants_read_ = !reading;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      read_wants_write_ = reading;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      if (errno == 0 || errno == EAGAIN) errno = ECONNRESET;
      ERR_clear_error();
      return -1;
    default:  // SSL_ERROR_SSL: not TLS, a bad handshake, a broken record
      failed_ = true;
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

void TlsStream::shutdown() {
  if (failed_ || shut_ || !handshake_done()) return;
  shut_ = true;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // queues and sends close_notify; the peer's answer is not awaited
  ERR_clear_error();
}

}  // namespace herald
