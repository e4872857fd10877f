// The subscriber side of herald-bench: one epoll loop holding thousands of
// connections over raw non-blocking sockets, reading each transport's wire format
// directly (no client library in between, so the bench measures the server). It
// speaks Herald's dialect or nginx+nchan's, for the side-by-side comparison.
#include "bench/herald_bench/worker.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "bench/herald_bench/histogram.h"
#include "bench/herald_bench/wire.h"

namespace herald::bench {
namespace {

constexpr uint64_t kControlTag = ~uint64_t{0};

enum class Kind { WebSocket, Sse, LongPoll };
// nchan: subscribe at /sub/<channel>; a message is the published body alone (a text
// frame, an SSE "data:" line, a poll response), and the stream is live once its
// response head arrived. Long-polls continue with If-Modified-Since/If-None-Match.
enum class Dialect { Herald, Nchan };
enum class State : uint8_t { Waiting, Connecting, Handshake, Live, Failed };

int64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct Sub {
  int fd = -1;
  uint32_t channel = 0;
  State state = State::Waiting;
  bool head_done = false;  // the response head of the stream (SSE, WebSocket) or current poll was read
  long body_left = 0;      // long-poll: length of the current response body
  uint64_t next = 0;       // the next message index this subscriber expects
  std::string in;          // bytes not parsed yet
  std::string events;      // SSE: de-chunked text not parsed yet
  std::string cursor;      // long-poll: where the next poll continues (Herald's cursor)
  std::string etag;        // long-poll on nchan: with last_modified, where the next poll continues
  std::string last_modified;
};

class Worker {
 public:
  Worker(const WorkerConfig& cfg, int control) : cfg_(cfg), control_(control) {}

  int run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return 1;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kControlTag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, control_, &ev);
    std::vector<epoll_event> events(1024);
    int64_t next_progress = mono_ms();
    while (!quit_) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        if (events[static_cast<size_t>(i)].data.u64 == kControlTag) {
          read_control();
        } else {
          const auto index = static_cast<size_t>(events[static_cast<size_t>(i)].data.u64);
          if (index < subs_.size()) on_ready(subs_[index], events[static_cast<size_t>(i)].events);
        }
      }
      if (!subs_.empty() && mono_ms() >= next_progress) {
        next_progress = mono_ms() + 100;
        send_line("P " + std::to_string(live_) + " " + std::to_string(failed_) + " " + std::to_string(delivered_));
      }
    }
    close_all();
    return 0;
  }

 private:
  // ---- commands from the coordinator ----

  void read_control() {
    char buf[4096];
    const ssize_t n = ::read(control_, buf, sizeof buf);
    if (n <= 0) {
      quit_ = true;
      return;
    }
    control_in_.append(buf, static_cast<size_t>(n));
    size_t eol;
    while ((eol = control_in_.find('\n')) != std::string::npos) {
      const std::string line = control_in_.substr(0, eol);
      control_in_.erase(0, eol + 1);
      command(line);
    }
  }

  void command(const std::string& line) {
    char kind[16] = {};
    char prefix[160] = {};
    char ip[64] = {};
    char dialect[16] = "herald";
    unsigned long long first = 0, count = 0, messages = 0;
    unsigned channels = 1, window = 1, port = 0;
    if (std::sscanf(line.c_str(), "C %15s %llu %llu %u %159s %u %63s %u %15s", kind, &first, &count, &channels, prefix,
                    &window, ip, &port, dialect) >= 8) {
      dialect_ = std::string_view(dialect) == "nchan" ? Dialect::Nchan : Dialect::Herald;
      server_ = sockaddr_in{};
      server_.sin_family = AF_INET;
      server_.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, ip, &server_.sin_addr);
      host_ = std::string(ip) + ":" + std::to_string(port);
      start(kind, first, count, channels, prefix, window);
    } else if (line == "M") {
      measuring_ = true;
      rx_ = tx_ = 0;
    } else if (std::sscanf(line.c_str(), "S %llu", &messages) == 1) {
      report(messages);
      start_phase();
    } else if (std::sscanf(line.c_str(), "F %llu", &messages) == 1) {
      report(messages);
      close_all();
    }
  }

  void start(std::string_view kind, uint64_t first, uint64_t count, uint32_t channels, std::string prefix,
             uint32_t window) {
    kind_ = kind == "websocket" ? Kind::WebSocket : kind == "sse" ? Kind::Sse : Kind::LongPoll;
    channels_ = channels ? channels : 1;
    prefix_ = std::move(prefix);
    window_ = window ? window : 1;
    subs_.assign(count, Sub{});
    for (size_t i = 0; i < subs_.size(); ++i) {
      subs_[i].channel = static_cast<uint32_t>((first + i) % channels_);
      subs_[i].next = subs_[i].channel;
    }
    next_open_ = 0;
    open_more();
  }

  // Everything counted since the last phase began; messages 0..messages-1 are owed.
  void report(uint64_t messages) {
    uint64_t lost = skipped_;
    for (const auto& s : subs_)
      if (s.next < messages) lost += (messages - s.next + channels_ - 1) / channels_;
    send_line("R " + std::to_string(delivered_) + " " + std::to_string(lost) + " " + std::to_string(dup_) + " " +
              std::to_string(misrouted_) + " " + std::to_string(failed_) + " " + std::to_string(rx_) + " " +
              std::to_string(tx_) + " " + std::to_string(last_delivery_us_) + " " + std::to_string(cycles_) + " " +
              hist_.serialize());
  }

  // The crowd stays connected; the next phase's counts start from zero. Losses were
  // reported with the phase they belong to, so the cursors (Sub::next) carry on.
  void start_phase() {
    delivered_ = dup_ = misrouted_ = skipped_ = rx_ = tx_ = cycles_ = 0;
    last_delivery_us_ = 0;
    hist_.clear();
  }

  void close_all() {
    for (auto& s : subs_) {
      if (s.fd < 0) continue;
      // A reset instead of a FIN: no TIME_WAIT left behind to eat the next run's ports.
      linger l{1, 0};
      setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(s.fd);
      s.fd = -1;
    }
    subs_.clear();
    subs_.shrink_to_fit();
    live_ = failed_ = handshakes_ = 0;
    start_phase();
    measuring_ = false;
    error_sent_ = false;
    hist_.clear();
  }

  void send_line(const std::string& line) {
    const std::string out = line + "\n";
    size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(control_, out.data() + off, out.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        quit_ = true;
        return;
      }
      off += static_cast<size_t>(n);
    }
  }

  // ---- connecting ----

  // Keeps `window_` handshakes in flight, so a large crowd does not flood the
  // server's accept queue all at once.
  void open_more() {
    if (opening_) return;  // fail() calls back in here; the outer loop goes on
    opening_ = true;
    while (handshakes_ < window_ && next_open_ < subs_.size()) open(next_open_++);
    opening_ = false;
  }

  void open(size_t index) {
    Sub& s = subs_[index];
    handshakes_++;
    s.state = State::Connecting;
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0)
      return fail(s, std::string("socket(): ") + std::strerror(errno) +
                         (errno == EMFILE ? " (use more processes: --procs)" : ""));
    const int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg_.source != 0) {
      // The port is chosen at connect(), per destination, so one source address
      // can hold a full ephemeral range towards the server.
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = cfg_.source;
      if (::bind(s.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        return fail(s, std::string("bind(): ") + std::strerror(errno));
    }
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) != 0 && errno != EINPROGRESS)
      return fail(s, std::string("connect(): ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = index;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &ev);
  }

  std::string channel_of(const Sub& s) const { return prefix_ + std::to_string(s.channel); }

  void on_connected(Sub& s) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(s, std::string("connect: ") + std::strerror(err));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(&s - subs_.data());
    epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &ev);
    s.state = State::Handshake;
    const std::string host = "Host: " + host_ + "\r\n";
    if (dialect_ == Dialect::Nchan) return open_nchan(s, host);
    switch (kind_) {
      case Kind::WebSocket:
        send(s, "GET /ws?channel=" + channel_of(s) + " HTTP/1.1\r\n" + host +
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: aGVyYWxkLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        break;
      case Kind::Sse:
        send(s, "GET /sse?channel=" + channel_of(s) + " HTTP/1.1\r\n" + host + "Accept: text/event-stream\r\n\r\n");
        break;
      case Kind::LongPoll:
        // The first poll answers at once with the head cursor; the next ones continue from it.
        send(s, "GET /poll?channel=" + channel_of(s) + "&timeout=0 HTTP/1.1\r\n" + host + "\r\n");
        break;
    }
  }

  void open_nchan(Sub& s, const std::string& host) {
    const std::string get = "GET /sub/" + channel_of(s) + " HTTP/1.1\r\n" + host;
    switch (kind_) {
      case Kind::WebSocket:
        send(s, get +
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: aGVyYWxkLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        break;
      case Kind::Sse:
        send(s, get + "Accept: text/event-stream\r\n\r\n");
        break;
      case Kind::LongPoll:
        // nchan answers a first poll only when a message exists (the channel starts
        // empty), so the poll counts as live once sent; nchan_subscriber_first_message
        // oldest means a poll that reaches the server late still misses nothing.
        send(s, get + "\r\n");
        if (s.state == State::Handshake) became_live(s);
        break;
    }
  }

  void became_live(Sub& s) {
    if (s.state != State::Handshake) return;
    s.state = State::Live;
    handshakes_--;
    live_++;
    open_more();
  }

  void fail(Sub& s, const std::string& why) {
    if (s.state == State::Failed) return;
    if (s.state == State::Live) {
      live_--;
    } else if (s.state != State::Waiting) {
      handshakes_--;
    }
    s.state = State::Failed;
    failed_++;
    if (s.fd >= 0) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);  // may never have been added: harmless
      ::close(s.fd);
      s.fd = -1;
    }
    if (!error_sent_) {
      error_sent_ = true;
      send_line("E " + why);
    }
    open_more();
  }

  // Requests and pongs are a few hundred bytes on a socket whose send buffer is
  // empty; a short write means something is badly wrong, and counts as a failure.
  void send(Sub& s, std::string_view bytes) {
    const ssize_t n = ::send(s.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(bytes.size()))
      return fail(s, n < 0 ? std::string("send(): ") + std::strerror(errno) : "send buffer full");
    if (measuring_) tx_ += bytes.size();
  }

  // ---- reading ----

  void on_ready(Sub& s, uint32_t events) {
    if (s.state == State::Failed || s.fd < 0) return;
    if (s.state == State::Connecting) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
      if (s.state != State::Handshake || !(events & EPOLLIN)) return;
    }
    static char buf[1 << 16];
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0)
      return fail(s, s.state == State::Live ? "the server closed a subscriber's connection"
                                            : "the server closed the connection during the handshake");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      return fail(s, std::string("recv(): ") + std::strerror(errno));
    }
    // Stamped per read, not per epoll_wait: a socket read late in a long batch may
    // hold messages published after the batch began.
    const int64_t now = now_us();
    if (measuring_) rx_ += static_cast<uint64_t>(n);
    s.in.append(buf, static_cast<size_t>(n));
    switch (kind_) {
      case Kind::WebSocket:
        read_ws(s, now);
        break;
      case Kind::Sse:
        read_sse(s, now);
        break;
      case Kind::LongPoll:
        read_poll(s, now);
        break;
    }
  }

  bool read_head(Sub& s, size_t& at, int expected_status) {
    ResponseHead head;
    if (!parse_response_head(std::string_view(s.in).substr(at), head)) return false;
    if (head.status != expected_status) {
      fail(s, "expected HTTP " + std::to_string(expected_status) +
                  ", got: " + s.in.substr(at, std::min<size_t>(s.in.size() - at, 300)));
      return false;
    }
    if (kind_ == Kind::Sse && dialect_ == Dialect::Herald && !head.chunked) {
      fail(s, "the SSE response is not chunked");
      return false;
    }
    if (kind_ == Kind::LongPoll && head.content_length < 0) {
      fail(s, "a poll response has no Content-Length");
      return false;
    }
    at += head.size;
    s.head_done = true;
    s.body_left = head.content_length;
    if (dialect_ == Dialect::Nchan) {
      if (kind_ == Kind::LongPoll) {
        s.etag = std::move(head.etag);
        s.last_modified = std::move(head.last_modified);
      } else {
        became_live(s);
      }
    }
    return true;
  }

  void read_ws(Sub& s, int64_t now) {
    size_t at = 0;
    if (!s.head_done && !read_head(s, at, 101)) return;
    while (s.state != State::Failed) {
      Frame f;
      const auto status = parse_ws_frame(std::string_view(s.in).substr(at), f);
      if (status == FrameStatus::NeedMore) break;
      if (status == FrameStatus::Error) return fail(s, "malformed WebSocket frame");
      at += f.size;
      switch (f.opcode) {
        case 0x1: {
          if (!f.fin) return fail(s, "fragmented WebSocket message (not expected from Herald)");
          uint64_t k = 0;
          int64_t t = 0;
          if (dialect_ == Dialect::Nchan || f.payload.starts_with("{\"op\":\"message\"")) {
            if (read_bench_data(f.payload, 0, k, t) == std::string_view::npos)
              return fail(s, "a message without the bench's data");
            deliver(s, k, t, now);
          } else if (f.payload.find("\"op\":\"subscribed\"") != std::string_view::npos) {
            became_live(s);
          } else if (f.payload.find("\"op\":\"error\"") != std::string_view::npos) {
            return fail(s, "server error: " + std::string(f.payload));
          }
          break;
        }
        case 0x8:
          return fail(s, "the server closed the WebSocket");
        case 0x9:
          send(s, ws_client_frame(0xA, f.payload));
          break;
        default:
          break;
      }
    }
    if (s.state != State::Failed) s.in.erase(0, at);
  }

  void read_sse(Sub& s, int64_t now) {
    size_t at = 0;
    if (!s.head_done && !read_head(s, at, 200)) return;
    if (dialect_ == Dialect::Nchan) {  // nchan's stream is not chunked: it ends with the connection
      s.events.append(s.in, at);
      s.in.clear();
    } else {
      bool ended = false;
      const long used = dechunk(std::string_view(s.in).substr(at), s.events, ended);
      if (used < 0) return fail(s, "malformed chunked encoding");
      s.in.erase(0, at + static_cast<size_t>(used));
      if (ended) return fail(s, "the event stream ended");
    }
    size_t pos = 0, end;
    while ((end = s.events.find("\n\n", pos)) != std::string::npos) {
      const std::string_view event = std::string_view(s.events).substr(pos, end - pos);
      pos = end + 2;
      const bool message = dialect_ == Dialect::Nchan ? event.find("data: ") != std::string_view::npos
                                                      : event.find("event: message\n") != std::string_view::npos;
      if (message) {
        uint64_t k = 0;
        int64_t t = 0;
        if (read_bench_data(event, 0, k, t) == std::string_view::npos)
          return fail(s, "a message without the bench's data");
        deliver(s, k, t, now);
      } else if (event.find("event: subscribed\n") != std::string_view::npos) {
        became_live(s);
      }
    }
    s.events.erase(0, pos);
  }

  void read_poll(Sub& s, int64_t now) {
    size_t at = 0;
    while (s.state != State::Failed) {
      if (!s.head_done && !read_head(s, at, 200)) break;
      if (s.in.size() - at < static_cast<size_t>(s.body_left)) break;
      const std::string_view body = std::string_view(s.in).substr(at, static_cast<size_t>(s.body_left));
      at += static_cast<size_t>(s.body_left);
      s.head_done = false;
      if (measuring_) cycles_++;
      if (dialect_ == Dialect::Nchan) {
        uint64_t k = 0;
        int64_t t = 0;
        if (read_bench_data(body, 0, k, t) == std::string_view::npos)
          return fail(s, "a poll response without the bench's data");
        deliver(s, k, t, now);
        send(s, "GET /sub/" + channel_of(s) + " HTTP/1.1\r\nHost: " + host_ +
                    "\r\nIf-Modified-Since: " + s.last_modified + "\r\nIf-None-Match: " + s.etag + "\r\n\r\n");
        continue;
      }
      if (body.find("\"recovered\":false") != std::string_view::npos)
        return fail(s, "a poll could not resume from its cursor (recovered: false)");
      uint64_t k = 0;
      int64_t t = 0;
      for (size_t pos = 0; (pos = read_bench_data(body, pos, k, t)) != std::string_view::npos;) deliver(s, k, t, now);
      const auto c = body.rfind("\"cursor\":\"");
      const auto e = c == std::string_view::npos ? c : body.find('"', c + 10);
      if (e == std::string_view::npos) return fail(s, "a poll response without a cursor");
      s.cursor.assign(body.substr(c + 10, e - c - 10));
      became_live(s);
      send(s, "GET /poll?channel=" + channel_of(s) + "&since=" + s.cursor +
                  "&timeout=" + std::to_string(cfg_.poll_timeout_s) + " HTTP/1.1\r\nHost: " + host_ + "\r\n\r\n");
    }
    if (s.state != State::Failed) s.in.erase(0, at);
  }

  // Each connection delivers in order, so a subscriber only keeps the next index
  // it expects: a jump is a loss, a step back a duplicate.
  void deliver(Sub& s, uint64_t k, int64_t t, int64_t now) {
    if (k % channels_ != s.channel) {
      misrouted_++;
      return;
    }
    if (k < s.next) {
      dup_++;
      return;
    }
    skipped_ += (k - s.next) / channels_;
    s.next = k + channels_;
    delivered_++;
    if (measuring_) hist_.record(now - t);
    last_delivery_us_ = now;
  }

  const WorkerConfig& cfg_;
  int control_;
  int epoll_ = -1;
  bool quit_ = false;
  std::string control_in_;

  sockaddr_in server_{};
  std::string host_;  // Host header: ip:port
  Kind kind_ = Kind::WebSocket;
  Dialect dialect_ = Dialect::Herald;
  uint32_t channels_ = 1;
  std::string prefix_;
  size_t window_ = 1;
  std::vector<Sub> subs_;
  size_t next_open_ = 0;
  bool opening_ = false;
  size_t handshakes_ = 0;
  size_t live_ = 0;
  size_t failed_ = 0;

  bool measuring_ = false;
  uint64_t delivered_ = 0, dup_ = 0, misrouted_ = 0, skipped_ = 0;
  uint64_t rx_ = 0, tx_ = 0;
  uint64_t cycles_ = 0;  // long-poll responses read while measuring
  int64_t last_delivery_us_ = 0;
  Histogram hist_;
  bool error_sent_ = false;
};

}  // namespace

int run_worker(const WorkerConfig& config, int control) { return Worker(config, control).run(); }

}  // namespace herald::bench
