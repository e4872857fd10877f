#pragma once
// Clients for tests that run several herald nodes on one RabbitMQ log.
//
// A Subscriber is one SSE, long-poll or WebSocket client on its own thread, over a raw
// socket. It records the full id of every message it receives and keeps its resume
// cursor the way a real client does (SSE: the last `id:` line; long-poll: the last
// answer's cursor; WebSocket: one cursor per channel). When its connection is lost it
// reconnects to the next node of its list and resumes from that cursor, as a client
// behind a load balancer would; it can also pause after N messages and be resumed on
// a node the test names.
//
// A PublishLoop publishes numbered messages to one node from its own thread and
// records every answer (status, ids, error body).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {

enum class Wire {
  Sse,        // resumes with the Last-Event-ID header, as EventSource does
  SseQuery,   // resumes with ?since=, as polyfills do
  LongPoll,   // ?since= on every poll
  WebSocket,  // channels and since in the URL at first; subscribe commands with since later
};
const char* wire_name(Wire wire);

struct Delivery {
  std::string id;
  std::string channel;
  std::string data;  // compact JSON
  int port;          // the node that delivered it
  std::chrono::steady_clock::time_point at;  // when it was read
};

class Subscriber {
 public:
  // Connects to ports[0] at once; after a lost connection, to the next port.
  // `since`: start after this cursor; empty: only messages published from now on.
  Subscriber(Wire wire, std::vector<int> ports, std::vector<std::string> channels, std::string since = "",
             size_t pause_after = std::numeric_limits<size_t>::max());
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // True once the current connection is subscribed (SSE "subscribed" event, every
  // WebSocket "subscribed" answer, or the first long-poll answer).
  bool wait_subscribed(int timeout_ms);
  bool wait_count(size_t n, int timeout_ms);
  // True once it paused: it reached `pause_after` messages and closed its connection.
  bool wait_paused(int timeout_ms);
  // Reconnects to `port` (from a pause, or dropping the current connection) and
  // resumes from its cursor; it no longer pauses.
  void resume_on(int port);
  void close();

  Wire wire() const { return wire_; }
  std::vector<Delivery> deliveries() const;
  std::vector<std::string> ids() const;
  size_t count() const;
  // Connections that reached the subscribed state.
  int connections() const;
  // Connections that ended without the test asking (node gone, error).
  int drops() const;
  // Anything a correct server never does: an unexpected status, recovered=false, an
  // error frame, a message that does not parse.
  std::vector<std::string> errors() const;
  // How each connection the subscriber did not end itself ended, in turn: "SSE ended
  // with retry: 500", "SSE cut", "long-poll answered with Connection: close",
  // "long-poll cut", "WebSocket close 1001 <reason>", "WebSocket cut", "connect refused".
  std::vector<std::string> ends() const;
  std::string describe() const;

 private:
  enum class End { Lost, Paused, Stopped, Switch };
  struct Reader;

  void run();
  End session(int port);
  End sse_session(Reader& r, int port);
  End poll_session(Reader& r, int port);
  End ws_session(Reader& r, int port);
  std::string channels_query() const;
  // Records one message; true when the subscriber must pause now.
  bool deliver(const std::string& id, const std::string& channel, const std::string& data, int port);
  void error(const std::string& what);
  void set_subscribed(bool subscribed);
  bool should_leave(End& end);
  End lost(std::string why);  // notes why, for ends()

  const Wire wire_;
  const std::vector<std::string> channels_;

  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<int> ports_;
  size_t port_index_ = 0;
  size_t pause_after_;
  bool paused_ = false;
  bool switch_ = false;  // resume_on() asked to leave the current connection
  bool subscribed_ = false;
  std::atomic<bool> stopping_{false};
  std::string cursor_;                           // SSE and long-poll
  std::map<std::string, std::string> cursors_;  // WebSocket, per channel
  std::vector<Delivery> deliveries_;
  std::vector<std::string> errors_;
  int connections_ = 0;
  int drops_ = 0;
  std::vector<std::string> ends_;
  std::string end_note_;  // the subscriber thread's only
  std::thread thread_;
};

// One HTTP request's answer.
struct HttpAnswer {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::string retry_after;
};
HttpAnswer http_get(int port, const std::string& target, int timeout_s = 10);
HttpAnswer http_post(int port, const std::string& target, const std::string& body, int timeout_s = 30);
// The value of an unlabelled Prometheus sample in GET /metrics; -1 when absent.
double metric(int port, const std::string& name);

struct PublishOutcome {
  HttpAnswer answer;
  std::vector<std::string> channels;
  std::vector<std::string> datas;  // compact JSON, one per message
  std::vector<std::string> ids;    // one per message when answer.status == 200
  int port = 0;                    // the node it was sent to
};

class PublishLoop {
 public:
  // Publishes {"p":name,"n":k} with k = 0, 1, ... to the channels in turn, one request
  // at a time, `pause` between requests; every `batch_every`-th request (0: never) is
  // an array of 3 messages. Stops after `count` messages or at stop().
  PublishLoop(int port, std::string name, std::vector<std::string> channels, size_t count,
              std::chrono::milliseconds pause, int batch_every = 0);
  // The same, starting on ports[0]; a request that gets no answer or a 503 moves the
  // loop to the next port (the message is not sent again: it may be in the log).
  PublishLoop(std::vector<int> ports, std::string name, std::vector<std::string> channels, size_t count,
              std::chrono::milliseconds pause, int batch_every = 0);
  ~PublishLoop();
  void wait();  // until `count` messages were published (answered)
  void stop();
  std::vector<PublishOutcome> outcomes() const;
  size_t answered() const;

 private:
  void run();

  std::vector<int> ports_;
  std::string name_;
  std::vector<std::string> channels_;
  size_t count_;
  std::chrono::milliseconds pause_;
  int batch_every_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<PublishOutcome> outcomes_;
  std::thread thread_;
};

}  // namespace herald::test
