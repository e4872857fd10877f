// Subscribers of the cluster tests (declared in cluster_support.h); the HTTP helpers and
// PublishLoop are in cluster_publish.cpp.
#include "cluster_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <sstream>

namespace herald::test {

using nlohmann::json;
using namespace std::chrono_literals;

const char* wire_name(Wire wire) {
  switch (wire) {
    case Wire::Sse: return "SSE (Last-Event-ID)";
    case Wire::SseQuery: return "SSE (?since)";
    case Wire::LongPoll: return "long-poll";
    case Wire::WebSocket: return "WebSocket";
  }
  return "?";
}

// One TCP connection to a node and the bytes read from it but not yet parsed.
struct Subscriber::Reader {
  enum Result { Data, Timeout, Closed };
  int fd = -1;
  std::string in;

  ~Reader() {
    if (fd >= 0) ::close(fd);
  }
  bool connect(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  bool send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Waits up to 100 ms for more bytes, so the caller can look at its stop flags.
  Result fill() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) return Timeout;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return n < 0 && errno == EAGAIN ? Timeout : Closed;
    in.append(buf, static_cast<size_t>(n));
    return Data;
  }
};

namespace {

// Splits an HTTP response head off `in`: its status, and the value of `header` if asked.
bool take_head(std::string& in, int& status, const char* header = nullptr, std::string* value = nullptr,
               std::string* head_out = nullptr) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = in.substr(0, end + 2);
  if (head_out) *head_out = head;
  in.erase(0, end + 4);
  status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  if (header && value) {
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string key = std::string("\r\n") + header + ":";
    const auto at = lower.find(key);
    if (at != std::string::npos) {
      auto from = at + key.size();
      while (from < head.size() && head[from] == ' ') ++from;
      value->assign(head, from, head.find("\r\n", from) - from);
    }
  }
  return true;
}

std::string masked_frame(uint8_t opcode, const std::string& payload) {
  static thread_local std::mt19937 rng(std::random_device{}());
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  }
  char mask[4];
  for (auto& m : mask) m = static_cast<char>(rng());
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

}  // namespace

Subscriber::Subscriber(Wire wire, std::vector<int> ports, std::vector<std::string> channels, std::string since,
                       size_t pause_after)
    : wire_(wire), channels_(std::move(channels)), ports_(std::move(ports)), pause_after_(pause_after),
      cursor_(since) {
  for (const auto& c : channels_) cursors_[c] = since;
  thread_ = std::thread([this] { run(); });
}

Subscriber::~Subscriber() { close(); }

void Subscriber::close() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool Subscriber::wait_subscribed(int timeout_ms) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return subscribed_; });
}

bool Subscriber::wait_count(size_t n, int timeout_ms) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return deliveries_.size() >= n; });
}

bool Subscriber::wait_paused(int timeout_ms) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return paused_; });
}

void Subscriber::resume_on(int port) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < ports_.size() && ports_[i] != port) ++i;
  if (i == ports_.size()) ports_.push_back(port);
  port_index_ = i;
  switch_ = !paused_;
  paused_ = false;
  pause_after_ = std::numeric_limits<size_t>::max();
  cv_.notify_all();
}

std::vector<Delivery> Subscriber::deliveries() const {
  std::lock_guard lock(mutex_);
  return deliveries_;
}

std::vector<std::string> Subscriber::ids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(deliveries_.size());
  for (const auto& d : deliveries_) out.push_back(d.id);
  return out;
}

size_t Subscriber::count() const {
  std::lock_guard lock(mutex_);
  return deliveries_.size();
}

int Subscriber::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

int Subscriber::drops() const {
  std::lock_guard lock(mutex_);
  return drops_;
}

std::vector<std::string> Subscriber::ends() const {
  std::lock_guard lock(mutex_);
  return ends_;
}

Subscriber::End Subscriber::lost(std::string why) {
  end_note_ = std::move(why);
  return End::Lost;
}

std::vector<std::string> Subscriber::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::string Subscriber::describe() const {
  std::lock_guard lock(mutex_);
  std::ostringstream s;
  s << wire_name(wire_) << " subscriber on port " << ports_[port_index_] << " (" << deliveries_.size()
    << " messages, " << connections_ << " connections, " << drops_ << " drops, " << errors_.size() << " errors";
  if (!errors_.empty()) s << ", first: " << errors_.front();
  s << ")";
  return s.str();
}

void Subscriber::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (paused_) {
      cv_.wait(lock);
      continue;
    }
    const int port = ports_[port_index_];
    lock.unlock();
    End end = End::Lost;
    try {
      end = session(port);
    } catch (const std::exception& e) {  // a field of the wrong type: report it, never terminate
      error(std::string("unexpected input: ") + e.what());
    }
    lock.lock();
    subscribed_ = false;
    switch_ = false;
    if (end == End::Lost && !stopping_) {
      ++drops_;
      ends_.push_back(end_note_.empty() ? "connection lost" : end_note_);
      end_note_.clear();
      port_index_ = (port_index_ + 1) % ports_.size();
      cv_.wait_for(lock, 100ms, [&] { return stopping_.load(); });
    }
  }
}

bool Subscriber::should_leave(End& end) {
  std::lock_guard lock(mutex_);
  if (stopping_) {
    end = End::Stopped;
  } else if (switch_) {
    end = End::Switch;
  } else if (paused_) {
    end = End::Paused;
  } else {
    return false;
  }
  return true;
}

bool Subscriber::deliver(const std::string& id, const std::string& channel, const std::string& data, int port) {
  std::lock_guard lock(mutex_);
  deliveries_.push_back(Delivery{id, channel, data, port, std::chrono::steady_clock::now()});
  if (wire_ == Wire::WebSocket) {
    cursors_[channel] = id;
  } else {
    cursor_ = id;
  }
  if (deliveries_.size() >= pause_after_) paused_ = true;
  cv_.notify_all();
  return paused_;
}

void Subscriber::error(const std::string& what) {
  std::lock_guard lock(mutex_);
  errors_.push_back(what);
}

void Subscriber::set_subscribed(bool subscribed) {
  std::lock_guard lock(mutex_);
  if (subscribed && !subscribed_) ++connections_;
  subscribed_ = subscribed;
  cv_.notify_all();
}

std::string Subscriber::channels_query() const {
  std::string q;
  for (const auto& c : channels_) q += (q.empty() ? "channel=" : "&channel=") + c;
  return q;
}

Subscriber::End Subscriber::session(int port) {
  Reader r;
  if (!r.connect(port)) return lost("connect refused");
  switch (wire_) {
    case Wire::Sse:
    case Wire::SseQuery: return sse_session(r, port);
    case Wire::LongPoll: return poll_session(r, port);
    case Wire::WebSocket: return ws_session(r, port);
  }
  return End::Lost;
}

Subscriber::End Subscriber::sse_session(Reader& r, int port) {
  std::string since;
  {
    std::lock_guard lock(mutex_);
    since = cursor_;
  }
  std::string req = "GET /sse?" + channels_query();
  if (!since.empty() && wire_ == Wire::SseQuery) req += "&since=" + since;
  req += " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  if (!since.empty() && wire_ == Wire::Sse) req += "Last-Event-ID: " + since + "\r\n";
  req += "\r\n";
  if (!r.send(req)) return End::Lost;

  bool have_head = false;
  std::string body;  // de-chunked bytes not yet parsed into lines
  std::string id, event, data, retry;
  bool has_id = false;
  bool ended = false;
  End end;
  while (!should_leave(end)) {
    const auto got = r.fill();
    if (got == Reader::Closed) return lost("SSE cut");
    if (got == Reader::Timeout) continue;
    if (!have_head) {
      int status = 0;
      if (!take_head(r.in, status)) continue;
      have_head = true;
      if (status != 200) {
        error("SSE answered " + std::to_string(status));
        return End::Lost;
      }
    }
    // Chunked transfer coding: "<hex size>\r\n<bytes>\r\n", ending with size 0.
    while (true) {
      const auto eol = r.in.find("\r\n");
      if (eol == std::string::npos) break;
      char* size_end = nullptr;
      const size_t size = std::strtoul(r.in.c_str(), &size_end, 16);
      if (size_end == r.in.c_str()) {
        error("SSE: bad chunk size line '" + r.in.substr(0, eol) + "'");
        return End::Lost;
      }
      if (size == 0) {  // the end of the stream: its last events are parsed first
        ended = true;
        break;
      }
      if (r.in.size() < eol + 2 + size + 2) break;
      body.append(r.in, eol + 2, size);
      r.in.erase(0, eol + 2 + size + 2);
    }
    size_t eol;
    while ((eol = body.find('\n')) != std::string::npos) {
      const std::string line = body.substr(0, eol);
      body.erase(0, eol + 1);
      if (!line.empty()) {
        if (line.rfind("id: ", 0) == 0) {
          id = line.substr(4);
          has_id = true;
        } else if (line.rfind("event: ", 0) == 0) {
          event = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
          data += line.substr(6);
        } else if (line.rfind("retry: ", 0) == 0) {
          retry = line.substr(7);
        }
        continue;
      }
      // A blank line dispatches the event; like EventSource, remember its id first.
      if (has_id) {
        std::lock_guard lock(mutex_);
        cursor_ = id;
      }
      if (event == "subscribed") {
        auto j = json::parse(data, nullptr, false);
        if (j.is_discarded() || j.value("recovered", false) != true) error("SSE subscribed: " + data);
        set_subscribed(true);
      } else if (event == "message") {
        auto env = json::parse(data, nullptr, false);
        if (env.is_discarded() || !env.contains("id") || env["id"] != id) {
          error("SSE message does not parse or its id differs from the event id: " + data);
        } else if (deliver(id, env["channel"].get<std::string>(), env["data"].dump(), port)) {
          return End::Paused;
        }
      }
      id.clear();
      event.clear();
      data.clear();
      has_id = false;
    }
    if (ended) return lost("SSE ended" + (retry.empty() ? std::string() : " with retry: " + retry));
  }
  return end;
}

Subscriber::End Subscriber::poll_session(Reader& r, int port) {
  End end;
  while (true) {
    std::string since;
    {
      std::lock_guard lock(mutex_);
      since = cursor_;
    }
    // Without a cursor, a poll with timeout=0 answers at once with the head cursor.
    const std::string target =
        "/poll?" + channels_query() + (since.empty() ? "&timeout=0" : "&since=" + since + "&timeout=5");
    if (!r.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return lost("long-poll cut");
    int status = 0;
    std::string length, head;
    bool have_head = false;
    while (true) {
      if (should_leave(end)) return end;
      if (!have_head) have_head = take_head(r.in, status, "content-length", &length, &head);
      if (have_head && r.in.size() >= std::stoul(length.empty() ? "0" : length)) break;
      if (r.fill() == Reader::Closed) return lost("long-poll cut");
    }
    const size_t n = std::stoul(length.empty() ? "0" : length);
    const std::string body = r.in.substr(0, n);
    r.in.erase(0, n);
    if (status != 200) {
      error("long-poll answered " + std::to_string(status) + ": " + body);
      return End::Lost;
    }
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("cursor") || !j.contains("messages")) {
      error("long-poll answer does not parse: " + body);
      return End::Lost;
    }
    if (j.value("recovered", false) != true) error("long-poll recovered=false after " + since);
    for (const auto& m : j["messages"])
      if (deliver(m["id"].get<std::string>(), m["channel"].get<std::string>(), m["data"].dump(), port))
        return End::Paused;
    {
      std::lock_guard lock(mutex_);
      cursor_ = j["cursor"].get<std::string>();
    }
    set_subscribed(true);
    std::string lower_head = head;
    for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower_head.find("\r\nconnection: close\r\n") != std::string::npos)
      return lost("long-poll answered with Connection: close");
  }
}

Subscriber::End Subscriber::ws_session(Reader& r, int port) {
  std::map<std::string, std::string> since;
  {
    std::lock_guard lock(mutex_);
    since = cursors_;
  }
  // While every channel has the same cursor the URL carries it; afterwards each
  // channel is subscribed with its own cursor, since a replay runs channel by channel.
  bool same = true;
  for (const auto& [c, s] : since) same = same && s == since.begin()->second;
  std::string target = "/ws";
  if (same) {
    target += "?" + channels_query();
    if (!since.begin()->second.empty()) target += "&since=" + since.begin()->second;
  }
  if (!r.send("GET " + target +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
    return End::Lost;
  bool upgraded = false;
  std::set<std::string> acked;
  End end;
  while (!should_leave(end)) {
    const auto got = r.fill();
    if (got == Reader::Closed) return lost("WebSocket cut");
    if (got == Reader::Timeout) continue;
    if (!upgraded) {
      int status = 0;
      if (!take_head(r.in, status)) continue;
      upgraded = true;
      if (status != 101) {
        error("WebSocket handshake answered " + std::to_string(status));
        return End::Lost;
      }
      if (!same) {
        for (const auto& [c, s] : since) {
          json cmd = {{"op", "subscribe"}, {"channel", c}};
          if (!s.empty()) cmd["since"] = s;
          if (!r.send(masked_frame(0x1, cmd.dump()))) return End::Lost;
        }
      }
    }
    while (r.in.size() >= 2) {  // server frames: unmasked, unfragmented
      const auto* p = reinterpret_cast<const unsigned char*>(r.in.data());
      size_t len = p[1] & 0x7F, head = 2;
      if (len == 126) {
        if (r.in.size() < 4) break;
        len = (size_t{p[2]} << 8) | p[3];
        head = 4;
      } else if (len == 127) {
        if (r.in.size() < 10) break;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
        head = 10;
      }
      if (r.in.size() < head + len) break;
      const uint8_t opcode = p[0] & 0x0F;
      const std::string payload = r.in.substr(head, len);
      r.in.erase(0, head + len);
      if (opcode == 0x9) {
        if (!r.send(masked_frame(0xA, payload))) return End::Lost;
      } else if (opcode == 0x8) {
        const int code = payload.size() >= 2 ? (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]) : 0;
        return lost("WebSocket close " + std::to_string(code) + (payload.size() > 2 ? " " + payload.substr(2) : ""));
      } else if (opcode == 0x1) {
        auto j = json::parse(payload, nullptr, false);
        const std::string op = j.is_discarded() ? "" : j.value("op", "");
        if (op == "message") {
          if (deliver(j["id"].get<std::string>(), j["channel"].get<std::string>(), j["data"].dump(), port))
            return End::Paused;
        } else if (op == "subscribed") {
          const std::string c = j.value("channel", "");
          if (j.value("recovered", false) != true) error("WebSocket subscribed: " + payload);
          {
            std::lock_guard lock(mutex_);
            // A replay after `since` follows; only a channel without a cursor starts at the head.
            if (cursors_[c].empty()) cursors_[c] = j.value("cursor", "");
          }
          acked.insert(c);
          if (acked.size() == channels_.size()) set_subscribed(true);
        } else if (op != "pong") {
          error("WebSocket frame: " + payload);
        }
      }
    }
  }
  return end;
}

}  // namespace herald::test
