#include "crowd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <nlohmann/json.hpp>

namespace herald::test {
namespace {

uint64_t seq_of(const std::string& cursor) { return std::stoull(cursor.substr(cursor.rfind('-') + 1)); }

// The seq of the "id" field of an envelope, without a JSON parse (crowds read millions).
bool envelope_seq(std::string_view text, uint64_t& seq) {
  const auto at = text.find("\"id\":\"");
  if (at == std::string_view::npos) return false;
  const auto end = text.find('"', at + 6);
  const auto dash = text.rfind('-', end);
  if (end == std::string_view::npos || dash == std::string_view::npos || dash < at) return false;
  seq = 0;
  for (size_t i = dash + 1; i < end; ++i) seq = seq * 10 + static_cast<uint64_t>(text[i] - '0');
  return true;
}

int connect_to(int port, int index) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  // Spread clients over 127.0.0.x source addresses, as big crowds would run out of ports.
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7F000001 + static_cast<uint32_t>(index / 20000));
  ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(0x7F000001);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Crowd::Crowd(CrowdKind kind, int port, std::string query, size_t clients)
    : kind_(kind), port_(port), query_(std::move(query)), clients_(clients) {}

Crowd::~Crowd() {
  for (auto& c : clients_)
    if (c.fd >= 0) ::close(c.fd);
}

size_t Crowd::failures() const {
  size_t n = 0;
  for (const auto& c : clients_) n += c.failed ? 1 : 0;
  return n;
}

std::string Crowd::first_failure() const {
  for (const auto& c : clients_)
    if (c.failed) return c.why;
  return {};
}

void Crowd::fail(Client& c, std::string why) {
  if (c.failed) return;
  c.failed = true;
  c.why = std::move(why);
}

void Crowd::send_poll(Client& c) {
  std::string q = "GET /poll?" + query_ + "&timeout=20";
  if (!c.cursor.empty()) q += "&since=" + c.cursor;
  q += " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (!send_all(c.fd, q)) fail(c, "poll request not sent");
}

bool Crowd::connect(int timeout_ms) {
  for (size_t i = 0; i < clients_.size(); ++i) {
    auto& c = clients_[i];
    c.fd = connect_to(port_, static_cast<int>(i));
    if (c.fd < 0) {
      fail(c, std::string("connect: ") + std::strerror(errno));
      return false;
    }
    std::string request;
    if (kind_ == CrowdKind::Sse) {
      request = "GET /sse?" + query_ + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    } else if (kind_ == CrowdKind::WebSocket) {
      request = "GET /ws?" + query_ +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    } else {
      // A first poll with timeout=0 answers at once with the head cursor; the next
      // poll continues from it, so nothing published after connect() is missed.
      request = "GET /poll?" + query_ + "&timeout=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    }
    if (!send_all(c.fd, request)) {
      fail(c, std::string("request not sent: ") + std::strerror(errno));
      return false;
    }
  }
  return pump(timeout_ms, 0, true);
}

bool Crowd::run_until(size_t expected, int timeout_ms) { return pump(timeout_ms, expected, false); }

void Crowd::on_ws_bytes(Client& c) {
  if (!c.upgraded) {
    auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
      fail(c, "upgrade refused: " + c.in.substr(0, c.in.find('\r')));
      return;
    }
    c.scan = end + 4;
    c.upgraded = true;
  }
  for (;;) {  // unmasked server frames
    if (c.in.size() - c.scan < 2) break;
    const auto* p = reinterpret_cast<const unsigned char*>(c.in.data() + c.scan);
    size_t len = p[1] & 0x7F, head = 2;
    if (len == 126) {
      if (c.in.size() - c.scan < 4) break;
      len = (size_t{p[2]} << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (c.in.size() - c.scan < 10) break;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
      head = 10;
    }
    if (c.in.size() - c.scan < head + len) break;
    std::string_view payload(c.in.data() + c.scan + head, len);
    if ((p[0] & 0x0F) == 0x1) {
      uint64_t seq = 0;
      if (payload.find("\"op\":\"subscribed\"") != std::string_view::npos) {
        c.subscribed = true;
      } else if (payload.find("\"op\":\"message\"") != std::string_view::npos && envelope_seq(payload, seq)) {
        c.seqs.push_back(seq);
      }
    } else if ((p[0] & 0x0F) == 0x9) {
      // Answered like any client (RFC 6455 5.5.2): herald drops a connection that
      // leaves its pings unanswered, which a slow run (a sanitizer build) reaches.
      std::string pong{'\x8A', static_cast<char>(0x80 | len), 0, 0, 0, 0};  // zero mask key
      pong.append(payload);
      if (!send_all(c.fd, pong)) fail(c, "pong not sent");
    } else if ((p[0] & 0x0F) == 0x8) {
      const unsigned code = len >= 2 ? (unsigned{p[head]} << 8) | p[head + 1] : 0;
      fail(c, "closed " + std::to_string(code) + " " + std::string(payload.substr(len >= 2 ? 2 : 0)));
    }
    c.scan += head + len;
  }
  if (c.scan > (1 << 16)) {
    c.in.erase(0, c.scan);
    c.scan = 0;
  }
}

void Crowd::on_bytes(Client& c) {
  if (kind_ == CrowdKind::WebSocket) return on_ws_bytes(c);
  if (kind_ == CrowdKind::Sse) {
    for (;;) {
      if (!c.subscribed) {
        auto at = c.in.find("event: subscribed\n", c.scan);
        if (at == std::string::npos) return;
        c.subscribed = true;
        c.scan = at;
      }
      const std::string marker = "event: message\ndata: ";
      auto at = c.in.find(marker, c.scan);
      if (at == std::string::npos) return;
      auto eol = c.in.find('\n', at + marker.size());
      if (eol == std::string::npos) return;
      uint64_t seq = 0;
      if (!envelope_seq(std::string_view(c.in).substr(at + marker.size(), eol - at - marker.size()), seq)) {
        fail(c, "unreadable SSE message");
        return;
      }
      c.seqs.push_back(seq);
      c.scan = eol;
      if (c.scan > 1 << 20) {
        c.in.erase(0, c.scan);
        c.scan = 0;
      }
    }
  }
  for (;;) {  // long-poll: whole responses
    auto head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    auto cl = c.in.find("Content-Length: ");
    if (cl == std::string::npos || cl > head_end) {
      fail(c, "poll answer without Content-Length");
      return;
    }
    const size_t len = std::stoul(c.in.substr(cl + 16));
    if (c.in.size() < head_end + 4 + len) return;
    if (c.in.compare(0, 12, "HTTP/1.1 200") != 0) fail(c, "poll answered " + c.in.substr(0, c.in.find('\r')));
    auto body = nlohmann::json::parse(c.in.substr(head_end + 4, len), nullptr, false);
    c.in.erase(0, head_end + 4 + len);
    if (body.is_discarded() || !body.contains("cursor")) {
      fail(c, "poll answer without a cursor");
      return;
    }
    for (auto& m : body["messages"]) c.seqs.push_back(seq_of(m["id"].get<std::string>()));
    c.cursor = body["cursor"].get<std::string>();
    c.subscribed = true;
    send_poll(c);
  }
}

bool Crowd::pump(int timeout_ms, size_t expected, bool wait_subscribed) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<pollfd> fds(clients_.size());
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    bool done = true;
    for (const auto& c : clients_) {
      if (c.failed) return false;
      if (wait_subscribed ? !c.subscribed : c.seqs.size() < expected) done = false;
    }
    if (done) return true;
    for (size_t i = 0; i < clients_.size(); ++i) fds[i] = pollfd{clients_[i].fd, POLLIN, 0};
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (size_t i = 0; i < clients_.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto& c = clients_[i];
      ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) {
        fail(c, n == 0 ? "connection closed by the server" : std::string("recv: ") + std::strerror(errno));
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      on_bytes(c);
    }
  }
  return false;
}

}  // namespace herald::test
