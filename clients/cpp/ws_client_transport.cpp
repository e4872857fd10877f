// WebSocket over a plain TCP socket (cpp-httplib 0.11 has none): the HTTP upgrade
// with a random key whose answer is verified, masked client frames, the server's
// frames read by ServerFrameReader. One I/O thread owns the socket and does every
// read and write; the client thread only queues commands and wakes it (eventfd).
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "clients/cpp/client_transport.h"
#include "clients/cpp/ws_frame_reader.h"

namespace herald::client::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHandshake = 16 * 1024;  // bytes of the server's 101 (or error) answer
constexpr size_t kMaxOutbox = 1 << 20;       // unsent bytes before the server counts as stuck
constexpr size_t kReadChunk = 64 * 1024;

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view strip(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The server's answer to the upgrade request: status and headers, names lowercased
// (header names are case-insensitive) and values stripped.
struct UpgradeAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of header `name` (given in lowercase).
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return std::nullopt;
  }
  // True when a comma-separated header holds `token` (lowercase), in any case.
  [[nodiscard]] bool has_token(std::string_view name, std::string_view token) const {
    for (const auto& [k, v] : headers) {
      if (k != name) continue;
      const std::string value = lowercase(v);
      size_t start = 0;
      while (start <= value.size()) {
        const size_t comma = std::min(value.find(',', start), value.size());
        if (strip(std::string_view(value).substr(start, comma - start)) == token) return true;
        start = comma + 1;
      }
    }
    return false;
  }
};

std::optional<UpgradeAnswer> parse_answer(std::string_view head) {
  UpgradeAnswer a;
  // "HTTP/1.1 101 Switching Protocols": the three digits after the first space.
  const auto space = head.find(' ');
  if (head.substr(0, 5) != "HTTP/" || space == std::string_view::npos || head.size() < space + 4) return std::nullopt;
  auto [end, ec] = std::from_chars(head.data() + space + 1, head.data() + space + 4, a.status);
  if (ec != std::errc() || end != head.data() + space + 4) return std::nullopt;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? next : next - pos - 2);
    pos = next;
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    a.headers.emplace_back(lowercase(strip(line.substr(0, colon))), std::string(strip(line.substr(colon + 1))));
  }
  return a;
}

std::string random_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness for Sec-WebSocket-Key");
  unsigned char encoded[25];
  const int n = EVP_EncodeBlock(encoded, raw, sizeof raw);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

class WsTransport final : public ClientTransport {
 public:
  explicit WsTransport(TransportContext ctx)
      : ctx_(std::move(ctx)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        reader_(ctx_.options->max_message_size) {
    // The server learns the channels from commands, each with its own resume cursor;
    // the ping first, so even a connection with nothing to replay proves itself.
    queue_text(R"({"op":"ping"})");
    for (const auto& ch : ctx_.channels) {
      auto it = ctx_.since.find(ch);
      subscribe(ch, it == ctx_.since.end() ? std::nullopt : it->second);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~WsTransport() override {
    close();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  [[nodiscard]] bool can_change_channels() const override { return true; }

  void subscribe(const std::string& channel, const std::optional<std::string>& since) override {
    nlohmann::json cmd = {{"op", "subscribe"}, {"channel", channel}};
    if (since) cmd["since"] = *since;
    queue_text(cmd.dump());
  }

  void unsubscribe(const std::string& channel) override {
    queue_text(nlohmann::json({{"op", "unsubscribe"}, {"channel", channel}}).dump());
  }

  void close() override {
    stop_ = true;
    wake();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class Wait { Ready, Woken, Timeout, Stopped, Failed };

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  // Any thread: queues one masked frame for the I/O thread to write.
  void queue_frame(const std::string& unmasked) {
    uint8_t mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1) std::memset(mask, 0x5a, sizeof mask);
    std::lock_guard lock(out_mu_);
    queued_ += mask_frame(unmasked, mask);
    wake();
  }
  void queue_text(const std::string& text) { queue_frame(ws::encode_frame(ws::Opcode::Text, text)); }

  [[nodiscard]] Error fail(std::string code, std::string message) const {
    return Error{std::move(code), std::move(message), Transport::WebSocket};
  }

  // Waits for `events` on the socket or the deadline; with `woken`, also returns when
  // another thread queued frames (Woken). close() always ends the wait (Stopped).
  Wait wait(short events, Clock::time_point deadline, bool woken = false) {
    while (true) {
      if (stop_) return Wait::Stopped;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Wait::Timeout;
      pollfd fds[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
      if (n < 0 && errno != EINTR) return Wait::Failed;
      if (n <= 0) continue;
      if (fds[0].revents) return Wait::Ready;
      if (fds[1].revents) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
        if (woken && !stop_) return Wait::Woken;
      }
    }
  }

  void run() {
    Error why = connect_socket();
    if (why.code.empty()) why = handshake();
    if (why.code.empty()) why = pump();
    if (fd_ >= 0) {
      if (stop_) {
        // Best effort, never waited for: the server needs no goodbye to clean up.
        const std::string bye = close_frame(ws::close_code::normal);
        [[maybe_unused]] auto n = ::send(fd_, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      ::close(fd_);
      fd_ = -1;
    }
    if (!stop_) ctx_.sink->post(ctx_.link, ClosedEvent{std::move(why)});
  }

  [[nodiscard]] static std::string close_frame(uint16_t code) {
    uint8_t mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1) std::memset(mask, 0x5a, sizeof mask);
    return mask_frame(ws::encode_close(code, ""), mask);
  }

  Error connect_socket() {
    const auto deadline = Clock::now() + ctx_.options->probe_timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(ctx_.url.port);
    if (int rc = ::getaddrinfo(ctx_.url.host.c_str(), port.c_str(), &hints, &found); rc != 0)
      return fail("connect_failed", "cannot resolve " + ctx_.url.host + ": " + ::gai_strerror(rc));
    std::string last = "no address";
    for (addrinfo* ai = found; ai && !stop_; ai = ai->ai_next) {
      fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd_ < 0) continue;
      int err = ::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
      if (err == EINPROGRESS) {
        const Wait w = wait(POLLOUT, deadline);
        socklen_t len = sizeof err;
        err = w == Wait::Ready ? (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : errno)
                               : (w == Wait::Timeout ? ETIMEDOUT : ECANCELED);
      }
      if (err == 0) break;
      last = std::strerror(err);
      ::close(fd_);
      fd_ = -1;
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) return fail("connect_failed", "cannot connect to " + ctx_.url.origin() + ": " + last);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return {};
  }

  // Writes `out` fully or fails by the deadline (the handshake request is small).
  bool write_all(std::string_view out, Clock::time_point deadline) {
    while (!out.empty()) {
      const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        out.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (wait(POLLOUT, deadline) != Wait::Ready) return false;
      } else {
        return false;
      }
    }
    return true;
  }

  Error handshake() {
    const auto deadline = Clock::now() + ctx_.options->probe_timeout;
    const std::string key = random_key();
    std::string request = "GET " + ctx_.url.prefix + "/ws HTTP/1.1\r\nHost: " + ctx_.url.host_header() +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                          "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " +
                          std::string(ws::herald_subprotocol) + "\r\nUser-Agent: herald-cpp-client\r\n";
    if (!ctx_.options->token.empty()) request += "Authorization: Bearer " + ctx_.options->token + "\r\n";
    request += "\r\n";
    if (!write_all(request, deadline)) return fail("handshake_failed", "could not send the upgrade request");
    size_t head_end = std::string::npos;
    while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (in_.size() > kMaxHandshake) return fail("handshake_failed", "the upgrade answer is too large");
      if (!read_some(deadline))
        return fail("handshake_failed", "no complete answer to the upgrade request within " +
                                            std::to_string(ctx_.options->probe_timeout.count()) + " ms");
    }
    auto answer = parse_answer(std::string_view(in_).substr(0, head_end + 2));
    if (!answer) return fail("handshake_failed", "the upgrade answer is not HTTP");
    if (answer->status != 101) {
      // An error answer: its JSON body says what was wrong. Read what the server sent.
      const auto length = answer->header("content-length");
      const size_t want = length ? std::min<size_t>(std::strtoul(length->c_str(), nullptr, 10), kMaxHandshake) : 0;
      while (in_.size() - (head_end + 4) < want && read_some(deadline)) {
      }
      return http_error(answer->status, in_.substr(head_end + 4), ctx_.url, Transport::WebSocket);
    }
    if (lowercase(answer->header("upgrade").value_or("")) != "websocket" || !answer->has_token("connection", "upgrade"))
      return fail("handshake_failed", "the 101 answer lacks Upgrade: websocket / Connection: Upgrade");
    if (answer->header("sec-websocket-accept").value_or("") != ws::compute_accept_key(key))
      return fail("handshake_failed", "Sec-WebSocket-Accept does not match the key sent");
    if (auto proto = answer->header("sec-websocket-protocol"); proto && *proto != ws::herald_subprotocol)
      return fail("handshake_failed", "the server chose subprotocol '" + *proto + "', not herald.v1");
    if (answer->header("sec-websocket-extensions"))
      return fail("handshake_failed", "the server enabled an extension this client did not offer");
    in_.erase(0, head_end + 4);  // frames that came with the answer
    return {};
  }

  // One read into in_; false on EOF, error, stop or deadline.
  bool read_some(Clock::time_point deadline) {
    while (true) {
      char buf[kReadChunk];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) return false;
      if (wait(POLLIN, deadline) != Wait::Ready) return false;
    }
  }

  // The connected phase: frames in, queued commands out, client pings, idle check.
  Error pump() {
    const auto idle = ctx_.options->idle_timeout;
    const auto ping_every = ctx_.options->ping_interval;
    auto last_read = Clock::now();
    auto next_ping = last_read + ping_every;
    std::string out;
    while (!stop_) {
      {
        std::lock_guard lock(out_mu_);
        out += queued_;
        queued_.clear();
      }
      if (out.size() > kMaxOutbox) return fail("closed", "the server stopped reading (send buffer full)");
      if (Error e = handle_input(); !e.code.empty()) return e;
      const auto deadline = std::min(next_ping, last_read + idle);
      const Wait w = wait(static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), deadline, true);
      if (w == Wait::Stopped) break;
      if (w == Wait::Failed) return fail("closed", std::string("poll failed: ") + std::strerror(errno));
      const auto now = Clock::now();
      if (w != Wait::Ready && now >= last_read + idle)
        return fail("idle", "no frame from the server for " + std::to_string(idle.count()) + " ms");
      if (now >= next_ping) {
        next_ping = now + ping_every;
        queue_text(R"({"op":"ping"})");
      }
      if (w != Wait::Ready) continue;  // Woken (frames were queued) or a timer
      char buf[kReadChunk];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        last_read = now;
      } else if (n == 0) {
        return fail("closed", "the server closed the connection");
      } else if (errno != EAGAIN && errno != EINTR) {
        return fail("closed", std::string("read failed: ") + std::strerror(errno));
      }
      if (!out.empty()) {
        const ssize_t w_n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w_n > 0) {
          out.erase(0, static_cast<size_t>(w_n));
        } else if (w_n < 0 && errno != EAGAIN && errno != EINTR) {
          return fail("closed", std::string("write failed: ") + std::strerror(errno));
        }
      }
    }
    return {};
  }

  // Parses every whole frame in in_; an Error with a code ends the connection.
  Error handle_input() {
    std::string_view view = in_;
    ws::Event ev;
    Error result;
    while (result.code.empty()) {
      const auto status = reader_.next(view, ev);
      if (status == ws::ParseStatus::NeedMore) break;
      if (status == ws::ParseStatus::Error) {
        queue_frame_raw(close_frame(reader_.error().close_code));
        result = fail("protocol_error", "bad frame from the server: " + reader_.error().reason);
        break;
      }
      switch (ev.kind) {
        case ws::EventKind::Text: on_text(ev.payload); break;
        case ws::EventKind::Binary: break;  // not part of herald.v1; nothing to do with it
        case ws::EventKind::Ping: queue_frame(ws::encode_frame(ws::Opcode::Pong, ev.payload)); break;
        case ws::EventKind::Pong: break;
        case ws::EventKind::Close:
          queue_frame(ws::encode_close(ev.close_code, ""));
          result = fail("closed", "the server closed the WebSocket (" + std::to_string(ev.close_code) +
                                      (ev.payload.empty() ? "" : ": " + ev.payload) + ")");
          break;
      }
    }
    in_.erase(0, in_.size() - view.size());
    if (!result.code.empty()) flush_queued();
    return result;
  }

  void queue_frame_raw(std::string frame) {
    std::lock_guard lock(out_mu_);
    queued_ += frame;
  }

  // Best effort at the end: the close reply goes out if the socket takes it at once.
  void flush_queued() {
    std::lock_guard lock(out_mu_);
    [[maybe_unused]] auto n = ::send(fd_, queued_.data(), queued_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    queued_.clear();
  }

  void on_text(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return;
    const std::string op = j.value("op", "");
    if (op == "message") {
      if (auto env = envelope_from_json(j)) ctx_.sink->post(ctx_.link, MessageEvent{std::move(*env)});
    } else if (op == "subscribed") {
      SubscribedEvent ev;
      ev.channels.push_back(j.value("channel", ""));
      ev.recovered = j.value("recovered", true);
      ev.cursor = j.value("cursor", "");
      ctx_.sink->post(ctx_.link, std::move(ev));
    } else if (op == "gap") {
      const auto skipped = j.find("skipped");
      ctx_.sink->post(ctx_.link, SkippedEvent{j.value("channel", ""),
                                              skipped != j.end() && skipped->is_number_unsigned()
                                                  ? skipped->get<uint64_t>() : 0});
    } else if (op == "error") {
      ctx_.sink->post(ctx_.link, ServerErrorEvent{fail(j.value("code", "server_error"), j.value("message", text))});
    } else if (op == "pong" || op == "unsubscribed" || op == "published") {
      ctx_.sink->post(ctx_.link, AliveEvent{});
    }
  }

  TransportContext ctx_;
  int fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex out_mu_;
  std::string queued_;  // frames queued by any thread, taken by the I/O thread
  std::string in_;      // bytes read and not yet parsed (I/O thread)
  ServerFrameReader reader_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ClientTransport> open_websocket(TransportContext ctx) {
  if (ctx.url.scheme != "http") {
    // No TLS on this socket: say so through the normal failure path, so the client
    // falls back to a transport that has it.
    struct Refused final : ClientTransport {
      explicit Refused(TransportContext c) {
        c.sink->post(c.link, ClosedEvent{{"connect_failed", "WebSocket over " + c.url.scheme +
                                                                 " is not supported by this client", Transport::WebSocket}});
      }
      void close() override {}
    };
    return std::make_unique<Refused>(std::move(ctx));
  }
  return std::make_unique<WsTransport>(std::move(ctx));
}

}  // namespace herald::client::detail
