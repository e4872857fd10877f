// The client thread: one queue of commands (from API calls) and transport events,
// drained in order; the connection state machine (connect rounds, probing, fallback,
// failback, backoff); and the callbacks. Channel and cursor rules live in
// CursorBook, the wire formats in the transports.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "clients/cpp/client_transport.h"
#include "clients/cpp/cursor_book.h"
#include "clients/cpp/herald_client.h"
#include "clients/cpp/publisher.h"
#include "src/channel_name.h"

namespace herald::client {
namespace {

using Clock = std::chrono::steady_clock;
using detail::TransportEvent;

enum class Purpose { Connect, Failback, Replace };

// One connection: the first to carry data wins a connect round; a failback or
// replacement connection takes over from the active one once it is proven.
struct Handle {
  uint64_t id = 0;
  size_t index = 0;  // into the transport order
  Purpose purpose = Purpose::Connect;
  std::unique_ptr<detail::ClientTransport> transport;
  detail::Link link;
  bool proven = false;
  Clock::time_point probe_deadline;
};

struct Command {
  enum class Kind { Subscribe, Unsubscribe, Stop } kind;
  std::string channel;
  std::optional<std::string> since;
};

struct Posted {
  uint64_t link;
  TransportEvent event;
};

}  // namespace

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::WebSocket: return "websocket";
    case Transport::Sse: return "sse";
    case Transport::LongPoll: return "longpoll";
  }
  return "unknown";
}

std::optional<Transport> parse_transport(std::string_view name) {
  for (Transport t : {Transport::WebSocket, Transport::Sse, Transport::LongPoll})
    if (transport_name(t) == name) return t;
  return std::nullopt;
}

struct Client::Impl final : detail::EventSink {
  explicit Impl(Options o)
      : options(std::move(o)), url(parse_url(options.base_url)),
        publisher(url, options.publish_key, options.publish_timeout), rng(std::random_device{}()) {
    for (Transport t : options.transports)
      if (std::find(order.begin(), order.end(), t) == order.end()) order.push_back(t);
    if (order.empty()) throw std::invalid_argument("Options::transports names no transport");
    queue_limit = std::max<size_t>(options.event_queue_limit, 1);
  }

  static detail::BaseUrl parse_url(const std::string& text) {
    auto u = detail::parse_base_url(text);
    if (!u) throw std::invalid_argument("base_url must look like http://host:port (got '" + text + "')");
    return *u;
  }

  // ---- the queue (any thread) ----

  void push_command(Command c) {
    std::lock_guard lock(mu);
    queue.emplace_back(std::move(c));
    cv.notify_one();
  }

  void post(uint64_t link, TransportEvent event) override {
    std::unique_lock lock(mu);
    // The client thread itself never waits (it is the one that makes room).
    if (std::this_thread::get_id() != thread_id)
      space_cv.wait(lock, [&] { return posted < queue_limit || !live_links.count(link); });
    if (!live_links.count(link)) return;
    queue.emplace_back(Posted{link, std::move(event)});
    ++posted;
    cv.notify_one();
  }

  // ---- the client thread ----

  void run() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (queue.empty()) {
        if (auto d = next_deadline()) {
          cv.wait_until(lock, *d);
        } else {
          cv.wait(lock);
        }
      }
      std::deque<std::variant<Command, Posted>> items;
      items.swap(queue);
      posted = 0;
      space_cv.notify_all();
      lock.unlock();
      for (auto& item : items) {
        if (stopping) break;
        if (auto* c = std::get_if<Command>(&item)) {
          on_command(*c);
        } else {
          auto& p = std::get<Posted>(item);
          on_event(p.link, std::move(p.event));
        }
      }
      if (!stopping) {
        run_timers();
        // Connecting only after the whole batch lets subscriptions made together
        // share the first connection instead of forcing a replacement at once.
        if (!active && !cand && !retry_at) connect();
        sync();
      }
      lock.lock();
    }
    lock.unlock();
    stop_all();
  }

  std::optional<Clock::time_point> next_deadline() const {
    std::optional<Clock::time_point> d;
    auto consider = [&](const std::optional<Clock::time_point>& t) {
      if (t && (!d || *t < *d)) d = t;
    };
    consider(retry_at);
    consider(failback_at);
    if (cand) consider(cand->probe_deadline);
    return d;
  }

  void on_command(const Command& c) {
    if (c.kind == Command::Kind::Stop) {
      stopping = true;
      return;
    }
    std::lock_guard lock(state_mu);
    if (c.kind == Command::Kind::Subscribe) {
      book.add(c.channel, c.since);
    } else if (book.remove(c.channel) && book.empty()) {
      // Nothing to carry: drop the connection until the next subscribe.
      stop_all_locked();
      attempt = 0;
    }
  }

  Handle* find(uint64_t link) {
    if (active && active->id == link) return active.get();
    if (cand && cand->id == link) return cand.get();
    return nullptr;
  }

  void on_event(uint64_t link, TransportEvent event) {
    Handle* h = find(link);
    if (!h) return;  // from a connection already given up
    if (auto* closed = std::get_if<detail::ClosedEvent>(&event)) {
      if (h == cand.get()) {
        cand_failed(std::move(closed->error));
      } else {
        lost(std::move(closed->error));
      }
      return;
    }
    if (!h->proven) {
      proven(*h);
      h = find(link);
      if (!h) return;
    }
    std::vector<detail::Delivery> out;
    {
      std::lock_guard lock(state_mu);
      if (auto* s = std::get_if<detail::SubscribedEvent>(&event)) {
        book.on_subscribed(h->link, *s, out);
      } else if (auto* m = std::get_if<detail::MessageEvent>(&event)) {
        book.on_message(h->link, std::move(m->envelope), out);
      } else if (auto* b = std::get_if<detail::BatchEvent>(&event)) {
        book.on_batch(h->link, std::move(*b), out);
      } else if (auto* k = std::get_if<detail::SkippedEvent>(&event)) {
        book.on_skipped(h->link, *k, out);
      }
    }
    if (h->link.resync && h == active.get() && !cand) open(h->index, Purpose::Replace);
    if (auto* e = std::get_if<detail::ServerErrorEvent>(&event)) emit_error(e->error);
    for (auto& d : out) {
      if (auto* env = std::get_if<Envelope>(&d)) {
        call(message_cb, *env);
      } else {
        call(gap_cb, std::get<Gap>(d));
      }
      if (stopping) return;
    }
  }

  // ---- connecting ----

  void connect() {
    if (stopping || active || cand) return;
    {
      std::lock_guard lock(state_mu);
      if (book.empty()) return;
    }
    round.clear();
    for (size_t i = 0; i < order.size(); ++i) round.push_back((preferred + i) % order.size());
    round_pos = 0;
    open(round[0], Purpose::Connect);
  }

  void open(size_t index, Purpose purpose) {
    auto h = std::make_unique<Handle>();
    h->id = next_link++;
    h->index = index;
    h->purpose = purpose;
    h->probe_deadline = Clock::now() + options.probe_timeout;
    detail::TransportContext ctx;
    ctx.url = url;
    ctx.options = &options;
    ctx.link = h->id;
    ctx.sink = this;
    {
      std::lock_guard lock(state_mu);
      ctx.channels = book.channels();
      for (const auto& ch : ctx.channels) ctx.since[ch] = book.cursor(ch);
      ctx.cursor = book.pick_since(ctx.channels);
    }
    h->link.sent = ctx.since;
    if (order[index] != Transport::WebSocket) h->link.since = ctx.cursor;
    {
      std::lock_guard lock(mu);
      live_links.insert(h->id);
    }
    Handle& ref = *h;
    cand = std::move(h);
    try {
      switch (order[index]) {
        case Transport::WebSocket: ref.transport = detail::open_websocket(std::move(ctx)); break;
        case Transport::Sse: ref.transport = detail::open_sse(std::move(ctx)); break;
        case Transport::LongPoll: ref.transport = detail::open_longpoll(std::move(ctx)); break;
      }
    } catch (const std::exception& e) {
      // Resources ran out (a thread, a descriptor): a failed attempt like any other.
      cand_failed(Error{"connect_failed", e.what(), order[index]});
    }
  }

  // Stops a connection; its events still queued are dropped from now on.
  void kill(std::unique_ptr<Handle>& h) {
    if (!h) return;
    {
      std::lock_guard lock(mu);
      live_links.erase(h->id);
      space_cv.notify_all();  // an I/O thread waiting for room gives up, so close() cannot hang
    }
    if (h->transport) h->transport->close();
    h.reset();
  }

  void stop_all() {
    std::lock_guard lock(state_mu);
    stop_all_locked();
  }
  void stop_all_locked() {
    kill(active);
    kill(cand);
    active_transport.reset();
    retry_at.reset();
    failback_at.reset();
  }

  void proven(Handle& h) {
    h.proven = true;
    if (&h != cand.get()) return;
    {
      std::lock_guard lock(state_mu);
      kill(active);
      active = std::move(cand);
      active_transport = order[h.index];
    }
    if (h.purpose == Purpose::Connect) attempt = 0;
    if (h.purpose != Purpose::Replace) {
      failback_fails = 0;
      preferred = h.index;
      schedule_failback();
      call(transport_cb, order[h.index]);
    }
  }

  void cand_failed(Error err) {
    if (!cand) return;
    const size_t index = cand->index;
    const Purpose purpose = cand->purpose;
    kill(cand);
    emit_error(err);
    switch (purpose) {
      case Purpose::Connect:
        if (++round_pos < round.size()) {
          open(round[round_pos], Purpose::Connect);
        } else {
          retry(true);
        }
        break;
      case Purpose::Failback:
        if (active && index + 1 < active->index) {
          open(index + 1, Purpose::Failback);
        } else {
          ++failback_fails;
          schedule_failback();
        }
        break;
      case Purpose::Replace:
        // The working transport no longer opens (the error was reported above).
        lost(std::nullopt);
        break;
    }
  }

  void lost(std::optional<Error> err) {
    if (!active) return;
    preferred = active->index;
    stop_all();
    if (err) emit_error(*err);
    retry(false);
  }

  // Schedules the next connect round after the backoff: uniform in [0, cap) with
  // cap = min(max, initial * 2^attempt) ("full jitter"), so clients that lost the
  // same server do not come back in lockstep.
  void retry(bool round_failed) {
    stop_all();
    if (stopping) return;
    {
      std::lock_guard lock(state_mu);
      if (book.empty()) return;
    }
    const int64_t max = std::max<int64_t>(options.backoff.max.count(), 1);
    int64_t cap = std::clamp<int64_t>(options.backoff.initial.count(), 1, max);
    for (int i = 0; i < attempt && cap < max; ++i) cap = std::min(max, cap * 2);
    ++attempt;
    const int64_t delay = std::uniform_int_distribution<int64_t>(0, cap - 1)(rng);
    retry_at = Clock::now() + std::chrono::milliseconds(delay);
    if (round_failed)
      emit_error(Error{"round_failed",
                       "no transport could connect to " + options.base_url + "; retrying in " + std::to_string(delay) +
                           " ms",
                       std::nullopt});
  }

  // While on a transport after the first, tries the first again now and then; the
  // interval doubles after each failed try, up to 16 times.
  void schedule_failback() {
    failback_at.reset();
    if (!active || active->index == 0 || options.failback_interval.count() <= 0) return;
    const double factor = static_cast<double>(1 << std::min(failback_fails, 4)) *
                          std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    failback_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                     static_cast<double>(options.failback_interval.count()) * factor));
  }

  void run_timers() {
    const auto now = Clock::now();
    if (cand && now >= cand->probe_deadline) {
      cand_failed(Error{"probe_timeout",
                        std::string(transport_name(order[cand->index])) + " carried no data within " +
                            std::to_string(options.probe_timeout.count()) + " ms",
                        order[cand->index]});
    }
    if (retry_at && now >= *retry_at) {
      retry_at.reset();
      connect();
    }
    if (failback_at && now >= *failback_at) {
      failback_at.reset();
      if (active && !cand && active->index > 0) {
        open(0, Purpose::Failback);
      } else {
        schedule_failback();
      }
    }
  }

  // Brings the active connection's channels in line with the book: on the fly where
  // the transport can, else through a replacement connection (the overlap is safe,
  // duplicates are dropped by cursor).
  void sync() {
    if (!active || cand) return;
    Handle& a = *active;
    std::vector<std::string> wanted;
    {
      std::lock_guard lock(state_mu);
      wanted = book.channels();
    }
    bool same = wanted.size() == a.link.sent.size();
    for (const auto& ch : wanted) same = same && a.link.sent.count(ch);
    if (same) return;
    if (!a.transport->can_change_channels()) {
      open(a.index, Purpose::Replace);
      return;
    }
    // A replay still in progress is left to end by itself: its messages may still be
    // queued, and each new channel's "subscribed" notice comes after them anyway.
    std::lock_guard lock(state_mu);
    for (auto it = a.link.sent.begin(); it != a.link.sent.end();) {
      if (book.has(it->first)) {
        ++it;
        continue;
      }
      a.transport->unsubscribe(it->first);
      a.link.live.erase(it->first);
      it = a.link.sent.erase(it);
    }
    for (const auto& ch : wanted) {
      if (a.link.sent.count(ch)) continue;
      const auto since = book.cursor(ch);
      a.link.sent[ch] = since;
      a.transport->subscribe(ch, since);
    }
  }

  // ---- callbacks ----

  template <typename Fn, typename Arg>
  void call(const Fn& fn, const Arg& arg) {
    if (!fn) return;
    try {
      fn(arg);
    } catch (const std::exception& e) {
      emit_error(Error{"callback", std::string("a callback threw: ") + e.what(), std::nullopt});
    } catch (...) {
      emit_error(Error{"callback", "a callback threw a non-standard exception", std::nullopt});
    }
  }

  void emit_error(const Error& e) {
    if (!error_cb) return;
    try {
      error_cb(e);
    } catch (...) {
      // An error handler that throws has nowhere left to report to.
    }
  }

  Options options;
  detail::BaseUrl url;
  std::vector<Transport> order;
  detail::Publisher publisher;

  std::function<void(const Envelope&)> message_cb;
  std::function<void(const Gap&)> gap_cb;
  std::function<void(Transport)> transport_cb;
  std::function<void(const Error&)> error_cb;

  // Queue: guarded by mu.
  std::mutex mu;
  std::condition_variable cv;        // work for the client thread
  std::condition_variable space_cv;  // room for I/O threads
  std::deque<std::variant<Command, Posted>> queue;
  size_t posted = 0;  // transport events in the queue
  size_t queue_limit = 1;
  std::unordered_set<uint64_t> live_links;
  std::thread thread;
  std::thread::id thread_id;
  bool started = false;
  bool stop_requested = false;

  // Client thread only, except book and active_transport, which the accessors read
  // under state_mu.
  mutable std::mutex state_mu;
  detail::CursorBook book;
  std::optional<Transport> active_transport;
  bool stopping = false;
  std::unique_ptr<Handle> active;
  std::unique_ptr<Handle> cand;
  size_t preferred = 0;
  int attempt = 0;
  int failback_fails = 0;
  std::vector<size_t> round;
  size_t round_pos = 0;
  std::optional<Clock::time_point> retry_at;
  std::optional<Clock::time_point> failback_at;
  uint64_t next_link = 1;
  std::mt19937_64 rng;
};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Client::on_message(std::function<void(const Envelope&)> fn) { impl_->message_cb = std::move(fn); }
void Client::on_gap(std::function<void(const Gap&)> fn) { impl_->gap_cb = std::move(fn); }
void Client::on_transport(std::function<void(Transport)> fn) { impl_->transport_cb = std::move(fn); }
void Client::on_error(std::function<void(const Error&)> fn) { impl_->error_cb = std::move(fn); }

void Client::subscribe(const std::string& channel, const std::optional<std::string>& since) {
  if (!valid_channel(channel))
    throw std::invalid_argument("channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : - (got '" +
                                channel.substr(0, 140) + "')");
  if (since && !parse_cursor(*since))
    throw std::invalid_argument("'" + since->substr(0, 100) + "' is not a cursor from a Herald server");
  impl_->push_command(Command{Command::Kind::Subscribe, channel, since});
}

void Client::unsubscribe(const std::string& channel) {
  impl_->push_command(Command{Command::Kind::Unsubscribe, channel, std::nullopt});
}

void Client::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
  impl_->thread_id = impl_->thread.get_id();
}

void Client::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started) return;
    if (!impl_->stop_requested) {
      impl_->stop_requested = true;
      impl_->queue.emplace_back(Command{Command::Kind::Stop, {}, std::nullopt});
      impl_->cv.notify_one();
    }
    if (std::this_thread::get_id() == impl_->thread_id) {
      impl_->stopping = true;  // from a callback: the loop ends when it returns
      return;
    }
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::optional<Transport> Client::transport() const {
  std::lock_guard lock(impl_->state_mu);
  return impl_->active_transport;
}

std::optional<std::string> Client::cursor(const std::string& channel) const {
  std::lock_guard lock(impl_->state_mu);
  return impl_->book.cursor(channel);
}

Result<std::string> Client::publish(const std::string& channel, const nlohmann::json& data) {
  auto r = impl_->publisher.post(nlohmann::json{{"channel", channel}, {"data", data}});
  if (!r) return r.error();
  return r.value().front();
}

Result<std::vector<std::string>> Client::publish(const std::vector<PublishItem>& items) {
  auto body = nlohmann::json::array();
  for (const auto& item : items) body.push_back({{"channel", item.channel}, {"data", item.data}});
  return impl_->publisher.post(body);
}

}  // namespace herald::client
