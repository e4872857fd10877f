#pragma once
// Many SSE or long-poll subscribers in one thread, over raw non-blocking sockets
// and poll(): enough to hold a thousand of each without a thread per client. Each
// records the sequence numbers of the messages it received, in order.
#include <cstdint>
#include <string>
#include <vector>

namespace herald::test {

enum class CrowdKind { Sse, LongPoll, WebSocket };

class Crowd {
 public:
  // `query` is the part after /sse? or /poll? (e.g. "channel=a&channel=b").
  Crowd(CrowdKind kind, int port, std::string query, size_t clients);
  ~Crowd();
  // Connects everyone; for SSE waits until every stream has its "subscribed" event,
  // for long-poll until every first poll is held (it answers only with messages).
  bool connect(int timeout_ms);
  // Runs until every client has `expected` messages or the timeout passes.
  bool run_until(size_t expected, int timeout_ms);
  [[nodiscard]] const std::vector<uint64_t>& received(size_t client) const { return clients_[client].seqs; }
  [[nodiscard]] size_t size() const { return clients_.size(); }
  [[nodiscard]] size_t failures() const;
  // Why the first failed client failed (a close frame's code and reason, a status
  // line, a reset), for the test's message; empty when none did.
  [[nodiscard]] std::string first_failure() const;

 private:
  struct Client {
    int fd = -1;
    std::string in;
    std::vector<uint64_t> seqs;
    std::string cursor;
    bool subscribed = false;
    bool upgraded = false;  // WebSocket: the 101 was read
    bool failed = false;
    std::string why;  // set with `failed`
    size_t scan = 0;
  };
  static void fail(Client& c, std::string why);
  void send_poll(Client& c);
  void on_bytes(Client& c);
  void on_ws_bytes(Client& c);
  bool pump(int timeout_ms, size_t expected, bool wait_subscribed);

  CrowdKind kind_;
  int port_;
  std::string query_;
  std::vector<Client> clients_;
};

}  // namespace herald::test
