#include "broker/rabbitmq/broker_rabbitmq.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "broker/rabbitmq/amqp_connection.h"

namespace herald {
namespace {

// One channel per concern, so that a consumer's acks, the publisher's confirm tags and
// the occasional synchronous probe never mix.
constexpr uint16_t kLogChannel = 1;
constexpr uint16_t kPublishChannel = 2;
constexpr uint16_t kEpochChannel = 3;
constexpr uint16_t kProbeChannel = 4;

// The epoch stream holds a handful of ~100 byte records; these bounds are never reached.
constexpr int64_t kEpochStreamMaxBytes = 64 << 20;
constexpr int64_t kEpochStreamSegmentBytes = 1 << 20;

// Reading the epoch stream at connect: records of an existing stream arrive within
// milliseconds; an empty stream sends nothing, so silence for this long means "done".
constexpr auto kEpochFirstWait = std::chrono::milliseconds(1000);
constexpr auto kEpochIdleWait = std::chrono::milliseconds(200);

// Frames handled before the loop looks at new publishes and timers again.
constexpr int kEventsPerTurn = 256;
// How often the tail of the log is probed, for status().lag.
constexpr auto kTailRefresh = std::chrono::seconds(5);
// A probe of an empty log gets no delivery; when the passive declare says "empty"
// (its count lags ~5 s), wait this long before believing it.
constexpr auto kEmptyLogProbeWait = std::chrono::milliseconds(300);

// RabbitMQ replies that mean the configuration is wrong, not that the broker is away:
// access refused, inequivalent queue arguments, vhost not allowed.
bool is_configuration_error(int reply_code) { return reply_code == 403 || reply_code == 406 || reply_code == 530; }

}  // namespace

RabbitBroker::RabbitBroker(const std::string& url, RabbitOptions options)
    : url_(parse_amqp_url(url)),
      options_(std::move(options)),
      node_id_(options_.node_id.empty() ? "n" + random_hex(12) : options_.node_id),
      epoch_queue_(options_.queue + ".epoch"),
      ack_every_(static_cast<uint16_t>(std::max(1, options_.prefetch / 2))),
      pipeline_(PublishPipeline::Options{node_id_, options_.publish_queue_limit, options_.publish_timeout}),
      recent_ids_(options_.dedup_window) {
  if (options_.exchange.empty() || options_.queue.empty())
    throw std::invalid_argument("RabbitMQ exchange and queue names must not be empty");
  if (options_.prefetch == 0) throw std::invalid_argument("RabbitMQ prefetch must be at least 1");
  if (options_.max_unconfirmed == 0) throw std::invalid_argument("RabbitMQ max_unconfirmed must be at least 1");
  if (options_.heartbeat.count() < 1) throw std::invalid_argument("RabbitMQ heartbeat must be at least 1 s");
  if (node_id_.find('.') != std::string::npos)
    throw std::invalid_argument("RabbitMQ node id must not contain '.' (it separates the counter)");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

RabbitBroker::~RabbitBroker() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void RabbitBroker::start(BrokerSink& sink) {
  if (sink_) throw std::logic_error("RabbitBroker::start called twice");
  sink_ = &sink;
  thread_ = std::thread([this] { run(); });

  std::unique_lock lock(start_mutex_);
  start_cv_.wait_for(lock, options_.start_wait, [&] { return start_outcome_ != StartOutcome::pending; });
  const StartOutcome outcome = start_outcome_;
  const std::string error = start_error_;
  start_returned_ = true;
  lock.unlock();
  if (outcome == StartOutcome::failed) {
    stop();
    throw std::runtime_error("RabbitMQ at " + url_.redacted() + " refused Herald's configuration: " + error);
  }
  if (outcome == StartOutcome::pending)
    spdlog::warn("rabbitmq: not connected to {} after {} ms; starting anyway and retrying in the background",
                 url_.redacted(), options_.start_wait.count());
}

void RabbitBroker::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
  set_state(State::down, "stopped");
}

void RabbitBroker::publish(std::vector<PublishItem> items, PublishDone done) {
  if (pipeline_.submit(std::move(items), std::move(done))) wake();
}


std::string RabbitBroker::epoch() const {
  std::lock_guard lock(status_mutex_);
  return epoch_;
}

BrokerStatus RabbitBroker::status() const {
  BrokerStatus s;
  switch (state_.load()) {
    case State::up: s.state = "up"; break;
    case State::connecting: s.state = "connecting"; break;
    case State::down: s.state = "down"; break;
  }
  {
    std::lock_guard lock(status_mutex_);
    s.detail = detail_;
  }
  s.reconnects = reconnects_.load();
  s.confirms = confirms_.load();
  s.lag = lag_.load();
  s.pending = pipeline_.pending();
  return s;
}

void RabbitBroker::set_state(State state, std::string detail) {
  std::lock_guard lock(status_mutex_);
  state_ = state;
  detail_ = std::move(detail);
}

bool RabbitBroker::finish_start(StartOutcome outcome, const std::string& error) {
  std::lock_guard lock(start_mutex_);
  if (start_returned_ || start_outcome_ != StartOutcome::pending) return false;
  start_outcome_ = outcome;
  start_error_ = error;
  start_cv_.notify_all();
  return true;
}

void RabbitBroker::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void RabbitBroker::drain_wake() {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &value, sizeof value);
}

// ---- connection thread ----

void RabbitBroker::run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff_cap = options_.backoff_initial;
  bool ever_up = false;
  auto down_since = Clock::now();

  while (!stopping_) {
    set_state(State::connecting, "connecting to " + url_.redacted());
    std::string error;
    int reply_code = 0;
    try {
      session();
    } catch (const AmqpError& e) {
      error = e.what();
      reply_code = e.reply_code;
    } catch (const std::exception& e) {
      error = e.what();
    }
    // The connection is over: refuse new publishes, queue the unconfirmed ones again.
    const bool was_up = running_;
    running_ = false;
    node_state_open_ = false;
    pipeline_.set_accepting(false);
    pipeline_.take_submitted();
    pipeline_.connection_lost();
    conn_.reset();
    unacked_ = 0;
    if (stopping_) break;

    if (was_up) {
      ever_up = true;
      down_since = Clock::now();
      backoff_cap = options_.backoff_initial;
    }
    const bool config_error = is_configuration_error(reply_code);
    if (!ever_up && config_error && finish_start(StartOutcome::failed, error)) {
      // start() is still waiting: it throws, and Herald does not start half-configured.
      spdlog::error("rabbitmq: {}", error);
      break;
    }
    std::uniform_int_distribution<int64_t> jitter(0, backoff_cap.count());
    const auto delay = std::chrono::milliseconds(jitter(rng));
    backoff_cap = std::min(backoff_cap * 2, options_.backoff_max);
    spdlog::log(config_error ? spdlog::level::err : spdlog::level::warn, "rabbitmq: {}; reconnecting to {} in {} ms",
                error, url_.redacted(), delay.count());
    set_state(State::down, error);
    wait_backoff(delay, down_since);
  }

  pipeline_.set_accepting(false);
  conn_.reset();
  pipeline_.fail_all(BrokerError{503, "Herald is shutting down; publish to another node"});
  finish_start(StartOutcome::failed, "stopped before connecting");
}

void RabbitBroker::wait_backoff(std::chrono::milliseconds delay, Clock::time_point down_since) {
  const auto until = Clock::now() + delay;
  for (;;) {
    const auto now = Clock::now();
    pipeline_.take_submitted();  // not accepting: answers them 503 at once
    pipeline_.expire(now);
    if (pipeline_.has_work() && now - down_since >= options_.reconnect_grace)
      pipeline_.fail_all(BrokerError{503, "lost the connection to RabbitMQ and could not reconnect in time; the "
                                          "message may or may not be delivered: retry if it must arrive"});
    if (stopping_ || now >= until) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    pollfd fd{wake_fd_, POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 250)));
    drain_wake();
  }
}

void RabbitBroker::session() {
  conn_ = std::make_unique<AmqpConnection>();
  conn_->open(url_, options_.heartbeat, options_.io_timeout, "herald " + node_id_);
  for (uint16_t ch : {kLogChannel, kPublishChannel, kEpochChannel, kProbeChannel, kNodeStateChannel})
    conn_->open_channel(ch);
  conn_->confirm_select(kPublishChannel);
  next_publish_tag_ = 1;
  unacked_ = 0;
  own_record_id_.clear();

  conn_->declare_exchange(kLogChannel, options_.exchange, "topic");
  std::optional<uint32_t> log_count = conn_->queue_message_count(kProbeChannel, options_.queue);
  establish_epoch(log_count);

  FieldTable args = log_arguments();
  conn_->declare_queue(kLogChannel, options_.queue, args);
  conn_->bind_queue(kLogChannel, options_.queue, options_.exchange, "#");
  conn_->qos(kLogChannel, options_.prefetch);
  conn_->qos(kProbeChannel, 1);
  tail_probe_tag_.clear();
  if (!last_offset_ && !resume_from_ && !from_first_ && log_count) {
    // No position in this log yet: find its end to warm up from just before it.
    start_tail_probe();
    const auto wait = *log_count > 0 ? options_.io_timeout : kEmptyLogProbeWait;
    pump_until([&] { return tail_probe_tag_.empty(); }, Clock::now() + wait);
  }
  std::string from;
  FieldTable offset = start_offset(from);
  conn_->consume(kLogChannel, options_.queue, "herald-log", offset);
  update_lag();

  open_node_state();

  running_ = true;
  if (sessions_up_++ > 0) ++reconnects_;
  pipeline_.set_accepting(true);
  set_state(State::up, "connected to " + url_.redacted() + ", log '" + options_.queue + "', epoch " + epoch());
  spdlog::info("rabbitmq: connected to {}; log '{}' epoch {}, consuming {}", url_.redacted(), options_.queue, epoch(),
               from);
  finish_start(StartOutcome::up, "");
  loop();
}

FieldTable RabbitBroker::log_arguments() const {
  FieldTable args;
  args.add("x-queue-type", std::string("stream"))
      .add("x-max-age", options_.max_age)
      .add("x-max-length-bytes", options_.max_length_bytes)
      .add("x-stream-max-segment-size-bytes", options_.segment_size_bytes);
  return args;
}

FieldTable RabbitBroker::start_offset(std::string& description) {
  FieldTable t;
  const char* key = "x-stream-offset";
  if (last_offset_) {
    t.add(key, static_cast<int64_t>(*last_offset_ + 1));  // a cursor means "after K"
    description = "after offset " + std::to_string(*last_offset_);
  } else if (resume_from_) {
    // Nothing consumed yet in this epoch: start where the previous connection started,
    // so what was published while this node was away is not skipped.
    t.add(key, static_cast<int64_t>(*resume_from_));
    description = "from offset " + std::to_string(*resume_from_) + " (nothing consumed yet)";
  } else if (from_first_ || !tail_offset_ ||
             (options_.history_warmup > 0 && *tail_offset_ + 1 <= options_.history_warmup)) {
    // A new or empty log, or one shorter than the warm-up.
    t.add(key, std::string("first"));
    description = "from the start of the log";
  } else if (options_.history_warmup == 0) {
    t.add(key, std::string("next"));
    description = "new messages only";
    resume_from_ = *tail_offset_;  // at or before "next", never after
  } else {
    // The tail is where the last chunk begins, so this replays history_warmup
    // messages plus that chunk (fewer where segment boundaries skip offsets).
    const uint64_t from = *tail_offset_ + 1 - options_.history_warmup;
    t.add(key, static_cast<int64_t>(from));
    description = "from offset " + std::to_string(from) + " (warm-up)";
    resume_from_ = from;
  }
  return t;
}

void RabbitBroker::establish_epoch(std::optional<uint32_t>& log_count) {
  FieldTable args;
  args.add("x-queue-type", std::string("stream"))
      .add("x-max-length-bytes", kEpochStreamMaxBytes)
      .add("x-stream-max-segment-size-bytes", kEpochStreamSegmentBytes);
  conn_->declare_queue(kEpochChannel, epoch_queue_, args);
  conn_->qos(kEpochChannel, 100);
  FieldTable from_start;
  from_start.add("x-stream-offset", std::string("first"));
  chain_.reset();
  epoch_records_read_ = 0;
  auto started = Clock::now();
  conn_->consume(kEpochChannel, epoch_queue_, "herald-epoch", from_start);
  const auto read_records = [&](std::chrono::milliseconds first_wait) {
    pump_until(
        [&] {
          const auto now = Clock::now();
          return epoch_records_read_ > 0 && last_epoch_record_at_ > started
                     ? now - last_epoch_record_at_ >= kEpochIdleWait
                     : now - started >= first_wait;
        },
        started + options_.io_timeout);
  };
  read_records(kEpochFirstWait);

  const bool log_missing = !log_count;
  if (log_missing) {
    // Another node may have found it missing too and created it meanwhile; its
    // record was written before that, so read on a little and use it instead of
    // starting yet another epoch.
    log_count = conn_->queue_message_count(kProbeChannel, options_.queue);
    if (log_count) {
      started = Clock::now();
      read_records(kEpochIdleWait);
    }
  }

  if (chain_.current().empty() || !log_count) {
    // This node is about to create the log (or there is no epoch yet): start a new
    // epoch first, so that whoever finds the log existing also finds its epoch.
    const std::string next = random_hex(12);
    const std::string prev = chain_.current();
    own_record_id_ = node_id_ + ".epoch." + next;
    own_record_seen_ = false;
    FieldTable headers;
    headers.add("herald-epoch", next).add("herald-prev", prev);
    conn_->publish(kPublishChannel, "", epoch_queue_, own_record_id_, headers, "{}");
    ++next_publish_tag_;  // its confirm matches nothing in the pipeline and is ignored
    if (!pump_until([&] { return own_record_seen_; }, Clock::now() + options_.io_timeout))
      throw AmqpError("the epoch record written to '" + epoch_queue_ + "' did not come back");
    spdlog::info("rabbitmq: {} log '{}': wrote epoch record '{}' -> {}, {}", log_missing ? "creating" : "no epoch for",
                 options_.queue, prev, next,
                 chain_.current() == next ? "in force now" : "but another node's record came first: " + chain_.current());
  }
  adopt_epoch(chain_.current(), log_missing);
}

void RabbitBroker::adopt_epoch(const std::string& epoch, bool log_recreated) {
  std::string previous;
  {
    std::lock_guard lock(status_mutex_);
    if (epoch == epoch_) return;
    previous = std::move(epoch_);
    epoch_ = epoch;
  }
  last_offset_.reset();
  resume_from_.reset();
  tail_offset_.reset();
  recent_ids_.clear();
  // A log that replaced the one this node knew is new to it: read all of it.
  from_first_ = !previous.empty() || log_recreated;
  if (previous.empty())
    spdlog::info("rabbitmq: log epoch {}", epoch);
  else
    spdlog::warn("rabbitmq: log '{}' was recreated: epoch {} replaces {}; cursors of {} are void", options_.queue,
                 epoch, previous, previous);
  try {
    sink_->on_epoch(epoch);
  } catch (const std::exception& e) {
    spdlog::error("rabbitmq: the sink failed on the new epoch {}: {}", epoch, e.what());
  }
}

void RabbitBroker::loop() {
  auto next_tail_refresh = Clock::now() + kTailRefresh;
  const auto idle_wait = std::chrono::milliseconds(options_.heartbeat) / 4;
  while (!stopping_) {
    drain_wake();
    pipeline_.take_submitted();
    send_publishes();
    send_node_states();
    int handled = 0;
    AmqpEvent event;
    while (handled < kEventsPerTurn && conn_->next_event(event)) {
      dispatch(event);
      ++handled;
    }
    const bool busy = handled == kEventsPerTurn;
    if (!busy) flush_acks();  // idle: let the stream send more
    const auto now = Clock::now();
    pipeline_.expire(now);
    if (now >= next_tail_refresh) {
      // A probe of an empty log stays open until something arrives; no second one.
      if (tail_probe_tag_.empty()) start_tail_probe();
      next_tail_refresh = now + kTailRefresh;
    }
    // Confirms read just now may have opened the unconfirmed window: send first.
    const bool can_send = pipeline_.has_to_send() && pipeline_.unconfirmed() < options_.max_unconfirmed;
    if (!busy && !can_send) wait_readable(idle_wait);
  }
}

bool RabbitBroker::pump_until(const std::function<bool()>& done, Clock::time_point deadline) {
  for (;;) {
    drain_wake();  // publishes wait for loop(); a pending wake must not make poll() spin
    AmqpEvent event;
    while (conn_->next_event(event)) dispatch(event);
    if (done()) return true;
    const auto now = Clock::now();
    if (stopping_) throw AmqpError("stopping");
    if (now >= deadline) return false;
    wait_readable(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                           std::chrono::milliseconds(50)));
  }
}

void RabbitBroker::wait_readable(std::chrono::milliseconds timeout) {
  if (conn_->has_buffered()) return;
  pollfd fds[2] = {{conn_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  ::poll(fds, 2, static_cast<int>(std::max<int64_t>(timeout.count(), 1)));
}

void RabbitBroker::dispatch(AmqpEvent& event) {
  switch (event.kind) {
    case AmqpEvent::Kind::delivery:
      if (event.channel == kLogChannel)
        on_log_message(event.message);
      else if (event.channel == kEpochChannel)
        on_epoch_record(event.message);
      else if (event.channel == kProbeChannel)
        on_tail_probe(event.message);
      else if (event.channel == kNodeStateChannel)
        on_node_state(event.message);
      break;
    case AmqpEvent::Kind::returned:
      pipeline_.returned(event.message.message_id, std::to_string(event.reply_code) + " " + event.text);
      break;
    case AmqpEvent::Kind::ack:
      if (event.channel == kPublishChannel) confirms_ += pipeline_.acked(event.delivery_tag, event.multiple);
      break;
    case AmqpEvent::Kind::nack:
      if (event.channel == kPublishChannel) pipeline_.nacked(event.delivery_tag, event.multiple);
      break;
    case AmqpEvent::Kind::blocked:
      spdlog::warn("rabbitmq: RabbitMQ blocked publishing: {}", event.text);
      set_state(State::up, "RabbitMQ blocked publishing: " + event.text);
      break;
    case AmqpEvent::Kind::unblocked:
      spdlog::info("rabbitmq: RabbitMQ unblocked publishing");
      set_state(State::up, "connected to " + url_.redacted());
      break;
  }
}

void RabbitBroker::on_log_message(AmqpMessage& message) {
  last_delivery_tag_ = message.delivery_tag;
  if (++unacked_ >= ack_every_) flush_acks();

  const std::optional<int64_t> offset_header = message.int_header("x-stream-offset");
  if (!offset_header || *offset_header < 0) {
    spdlog::error("rabbitmq: a delivery from '{}' has no x-stream-offset; is it a stream queue?", options_.queue);
    return;
  }
  const uint64_t offset = static_cast<uint64_t>(*offset_header);
  if (last_offset_ && offset <= *last_offset_) return;  // the stream resumes after last; never expected
  last_offset_ = offset;
  update_lag();

  const std::string* channel = message.text_header("herald-channel");
  if (!channel || message.message_id.empty()) {
    if (!warned_foreign_)
      spdlog::warn("rabbitmq: skipping a message in '{}' that Herald did not publish (offset {})", options_.queue,
                   offset);
    warned_foreign_ = true;
    return;
  }
  if (!recent_ids_.insert(message.message_id)) {
    ++duplicates_;
    spdlog::debug("rabbitmq: dropping second copy of {} at offset {}", message.message_id, offset);
    return;
  }
  // Stream offsets start at 0, but seq 0 is every log's "before the first message" (the
  // head of an empty history), so a cursor's seq is the offset plus one.
  const Cursor cursor{epoch_, offset + 1};
  const int64_t ts_ms = message.int_header("herald-ts").value_or(0);
  try {
    sink_->on_message(build_message(*channel, cursor, ts_ms, std::move(message.body)));
  } catch (const std::exception& e) {
    spdlog::error("rabbitmq: the sink failed on message {}: {}", cursor.str(), e.what());
  }
  pipeline_.seen(message.message_id, cursor);
}

void RabbitBroker::on_epoch_record(const AmqpMessage& message) {
  conn_->ack(kEpochChannel, message.delivery_tag, false);
  ++epoch_records_read_;
  last_epoch_record_at_ = Clock::now();
  const std::string* next = message.text_header("herald-epoch");
  const std::string* prev = message.text_header("herald-prev");
  if (next) chain_.apply(prev ? *prev : std::string(), *next);
  if (!own_record_id_.empty() && message.message_id == own_record_id_) own_record_seen_ = true;
  if (running_ && chain_.current() != epoch_) {
    // Another node found the log gone and started a new epoch: this connection's
    // consumer is reading a log that no longer exists (or a new one at a wrong offset).
    adopt_epoch(chain_.current(), true);
    pipeline_.fail_all(BrokerError{503, "the RabbitMQ log was recreated while publishing; publish again"});
    throw AmqpError("log '" + options_.queue + "' was recreated; resubscribing from its start");
  }
}

void RabbitBroker::send_publishes() {
  while (pipeline_.unconfirmed() < options_.max_unconfirmed) {
    const std::optional<PublishPipeline::Outgoing> m = pipeline_.next_to_send();
    if (!m) return;
    FieldTable headers;
    headers.add("herald-channel", *m->channel).add("herald-ts", m->ts_ms);
    // The routing key is only informative (the log binds "#"); AMQP caps it at 255 bytes.
    const std::string_view key = std::string_view(*m->channel).substr(0, 255);
    conn_->publish(kPublishChannel, options_.exchange, key, *m->id, headers, *m->data);
    pipeline_.sent(*m->id, next_publish_tag_++);
  }
}

void RabbitBroker::flush_acks() {
  if (unacked_ == 0 || !conn_) return;
  conn_->ack(kLogChannel, last_delivery_tag_, true);
  unacked_ = 0;
}

// The log's end, for warm-up and lag. A passive declare's message count is no help
// here: once retention has dropped segments it counts the messages kept, not the
// offsets used. A consumer attached at "last" is handed the last chunk, whose first
// offset is close to the end; with prefetch 1 and no ack it gets one message, then the
// probe is cancelled.
void RabbitBroker::start_tail_probe() {
  tail_probe_tag_ = "herald-tail-" + std::to_string(++tail_probes_);
  FieldTable at_last;
  at_last.add("x-stream-offset", std::string("last"));
  conn_->consume(kProbeChannel, options_.queue, tail_probe_tag_, at_last);
}

void RabbitBroker::on_tail_probe(const AmqpMessage& message) {
  if (tail_probe_tag_.empty()) return;  // a late delivery for a cancelled probe
  if (const std::optional<int64_t> offset = message.int_header("x-stream-offset"); offset && *offset >= 0)
    tail_offset_ = std::max<uint64_t>(tail_offset_.value_or(0), static_cast<uint64_t>(*offset));
  const std::string tag = std::move(tail_probe_tag_);
  tail_probe_tag_.clear();
  conn_->cancel(kProbeChannel, tag);
  update_lag();
}

void RabbitBroker::update_lag() {
  const uint64_t next = last_offset_ ? *last_offset_ + 1 : resume_from_.value_or(0);
  const uint64_t tail_next = tail_offset_ ? *tail_offset_ + 1 : 0;
  lag_ = tail_next > next ? tail_next - next : 0;
}

}  // namespace herald
