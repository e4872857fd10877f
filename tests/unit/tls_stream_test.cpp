// TlsStream against an OpenSSL client over a non-blocking socket pair: the handshake
// driven by reads, gathered records, and the retry of a write the socket refused
// while the outbox kept growing (the path a slow subscriber takes).
#include <catch2/catch.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "transports/http/tls_stream.h"

using herald::TlsContext;
using herald::TlsStream;

namespace {

// A self-signed P-256 certificate and its key, written once into a temporary folder.
struct TestCert {
  std::string dir, cert, key;
  TestCert() {
    char tmpl[] = "/tmp/herald-tls-unit-XXXXXX";
    dir = ::mkdtemp(tmpl);
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, pkey, EVP_sha256());
    FILE* f = std::fopen(cert.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key.c_str(), "w");
    PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
  }
  ~TestCert() {
    std::remove(cert.c_str());
    std::remove(key.c_str());
    ::rmdir(dir.c_str());
  }
};

const TestCert& test_cert() {
  static TestCert c;
  return c;
}

// The server's stream on fds[0], an OpenSSL client on fds[1]; both non-blocking.
struct Pair {
  int fds[2] = {-1, -1};
  TlsContext server_ctx{test_cert().cert, test_cert().key};
  std::unique_ptr<TlsStream> server;
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL* client = nullptr;

  Pair() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    for (int fd : fds) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    server = server_ctx.accept(fds[0]);
    client = SSL_new(client_ctx);
    SSL_set_fd(client, fds[1]);
    SSL_set_connect_state(client);
  }
  ~Pair() {
    SSL_free(client);
    SSL_CTX_free(client_ctx);
    server.reset();
    ::close(fds[0]);
    ::close(fds[1]);
  }
  // Alternates client handshake steps and server reads until both are done.
  void handshake() {
    char buf[16];
    for (int i = 0; i < 100 && !(server->handshake_done() && SSL_is_init_finished(client)); ++i) {
      SSL_do_handshake(client);
      const ssize_t n = server->read(buf, sizeof buf);
      REQUIRE((n < 0 && errno == EAGAIN));
    }
    REQUIRE(server->handshake_done());
    REQUIRE(SSL_is_init_finished(client));
  }
  // Everything the client can read now.
  std::string client_read_all(size_t limit = SIZE_MAX) {
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
      const int n = SSL_read(client, buf, static_cast<int>(std::min(sizeof buf, limit - out.size())));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

ssize_t write_strings(TlsStream& s, const std::vector<std::string>& parts) {
  std::vector<iovec> iov;
  for (const auto& p : parts) iov.push_back({const_cast<char*>(p.data()), p.size()});
  return s.write(iov.data(), iov.size());
}

}  // namespace

TEST_CASE("tls stream: handshake through reads, then data both ways; small ranges share one record") {
  Pair p;
  p.handshake();
  REQUIRE(SSL_write(p.client, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
  char buf[64];
  const ssize_t n = p.server->read(buf, sizeof buf);
  REQUIRE(n == 18);
  REQUIRE(std::string(buf, 18) == "GET / HTTP/1.1\r\n\r\n");
  REQUIRE(write_strings(*p.server, {"event one\n", "event two\n", "event three\n"}) == 32);
  REQUIRE(p.client_read_all() == "event one\nevent two\nevent three\n");
  // The client's close_notify reads as the end of the stream.
  SSL_shutdown(p.client);
  REQUIRE(p.server->read(buf, sizeof buf) == 0);
}

TEST_CASE("tls stream: a refused write is retried with the same bytes while the outbox grows") {
  Pair p;
  p.handshake();
  int small = 4096;
  ::setsockopt(p.fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(p.fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // The outbox as Conn keeps it: ranges written from the front, appended at the back.
  std::deque<std::string> outbox;
  size_t front_sent = 0;
  std::string expected, received;
  int next = 0, blocked = 0;
  auto append = [&](size_t size) {
    std::string part(size, static_cast<char>('a' + next % 26));
    part += std::to_string(next++);
    expected += part;
    outbox.push_back(std::move(part));
  };
  for (int i = 0; i < 20; ++i) append(100 + i * 997 % 20000);
  while (!outbox.empty() || received.size() < expected.size()) {
    if (!outbox.empty()) {
      std::vector<iovec> iov;
      for (size_t i = 0; i < outbox.size() && i < 64; ++i) {
        const size_t skip = i == 0 ? front_sent : 0;
        iov.push_back({const_cast<char*>(outbox[i].data()) + skip, outbox[i].size() - skip});
      }
      ssize_t n = p.server->write(iov.data(), iov.size());
      if (n < 0) {
        REQUIRE(errno == EAGAIN);
        REQUIRE_FALSE(p.server->write_blocked_on_read());
        ++blocked;
        if (next < 400) append(50 + next * 31 % 3000);  // the next round's messages
        received += p.client_read_all(3000);            // the peer reads a little
        continue;
      }
      for (size_t left = static_cast<size_t>(n); left > 0;) {
        const size_t rest = outbox.front().size() - front_sent;
        if (left >= rest) {
          left -= rest;
          outbox.pop_front();
          front_sent = 0;
        } else {
          front_sent += left;
          left = 0;
        }
      }
    } else {
      received += p.client_read_all();
    }
  }
  REQUIRE(blocked > 10);
  REQUIRE(received.size() == expected.size());
  REQUIRE(received == expected);
}

TEST_CASE("tls stream: plain HTTP and garbage are told apart from a handshake") {
  SECTION("an HTTP request line") {
    Pair p;
    REQUIRE(::write(p.fds[1], "GET /healthz HTTP/1.1\r\n", 23) == 23);
    REQUIRE(p.server->peer_sent_plain_http(p.fds[0]));
    REQUIRE_FALSE(p.server->peer_sent_plain_http(p.fds[0]));  // asked once only
  }
  SECTION("a real ClientHello is not plain HTTP") {
    Pair p;
    SSL_do_handshake(p.client);
    REQUIRE_FALSE(p.server->peer_sent_plain_http(p.fds[0]));
  }
  SECTION("a broken handshake fails the stream; it writes nothing after") {
    Pair p;
    const unsigned char junk[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};
    REQUIRE(::write(p.fds[1], junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
    char buf[16];
    REQUIRE(p.server->read(buf, sizeof buf) == -1);
    REQUIRE(errno == EPROTO);
    REQUIRE(write_strings(*p.server, {"x"}) == -1);
    REQUIRE(errno == EPIPE);
  }
}

TEST_CASE("tls context: bad files are named in the error") {
  const auto& c = test_cert();
  auto message = [](const std::string& cert, const std::string& key) {
    try {
      TlsContext ctx(cert, key);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  REQUIRE(message(c.dir + "/none.pem", c.key).find("cannot read TLS certificate " + c.dir + "/none.pem") == 0);
  REQUIRE(message(c.cert, c.cert).find("is not a usable PEM private key") != std::string::npos);
  REQUIRE(message(c.key, c.key).find("is not a usable PEM certificate") != std::string::npos);
}
