#include "broker/rabbitmq/publish_pipeline.h"

namespace herald {
namespace {

PublishResult failure(std::string message) {
  PublishResult r;
  r.ok = false;
  r.error = BrokerError{503, std::move(message)};
  return r;
}

const char* const kUnreachable = "the message broker (RabbitMQ) is unreachable and Herald is reconnecting; retry shortly";

}  // namespace

PublishPipeline::PublishPipeline(Options options) : options_(std::move(options)) {}

bool PublishPipeline::submit(std::vector<PublishItem> items, PublishDone done) {
  if (items.empty()) {
    done(PublishResult{true, {}, {}});
    return false;
  }
  const size_t n = items.size();
  std::unique_lock lock(inbox_mutex_);
  if (!accepting_) {
    lock.unlock();
    done(failure(kUnreachable));
    return false;
  }
  if (in_pipeline_.load() + n > options_.limit) {
    lock.unlock();
    done(failure(n > options_.limit ? "a publish of " + std::to_string(n) + " messages exceeds the limit of " +
                                          std::to_string(options_.limit) + "; split it"
                                    : std::string("too many publishes are waiting for RabbitMQ; retry shortly")));
    return false;
  }
  in_pipeline_ += n;
  inbox_.push_back(Submitted{std::move(items), std::move(done)});
  return true;
}

void PublishPipeline::set_accepting(bool accepting) {
  std::lock_guard lock(inbox_mutex_);
  accepting_ = accepting;
}

bool PublishPipeline::take_submitted() {
  std::vector<Submitted> batch;
  bool accepting;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
    accepting = accepting_;
  }
  if (batch.empty()) return false;
  const auto deadline = Clock::now() + options_.timeout;
  for (Submitted& s : batch) {
    const size_t n = s.items.size();
    if (!accepting) {
      // The connection dropped between submit() and now: nothing was sent, say so.
      in_pipeline_ -= n;
      s.done(failure(kUnreachable));
      continue;
    }
    auto call = std::make_shared<Call>();
    call->done = std::move(s.done);
    call->cursors.resize(n);
    call->remaining = n;
    call->deadline = deadline;
    call->ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      PublishItem& item = s.items[i];
      std::string id = options_.node_id + "." + std::to_string(++counter_);
      Message m;
      m.call = call;
      m.index = i;
      m.channel = std::move(item.channel);
      m.data = std::move(item.data);
      m.ts_ms = item.ts_ms;
      messages_.emplace(id, std::move(m));
      to_send_.push_back(id);
      call->ids.push_back(std::move(id));
    }
    calls_.push_back(std::move(call));
  }
  return true;
}

std::optional<PublishPipeline::Outgoing> PublishPipeline::next_to_send() {
  while (!to_send_.empty()) {
    auto it = messages_.find(to_send_.front());
    if (it == messages_.end() || it->second.tag != 0 || it->second.confirmed || it->second.seen) {
      to_send_.pop_front();  // answered, or already on its way
      continue;
    }
    const Message& m = it->second;
    return Outgoing{&it->first, &m.channel, &m.data, m.ts_ms};
  }
  return std::nullopt;
}

void PublishPipeline::sent(const std::string& id, uint64_t delivery_tag) {
  auto it = messages_.find(id);
  if (!to_send_.empty() && to_send_.front() == id) to_send_.pop_front();
  if (it == messages_.end()) return;
  it->second.tag = delivery_tag;
  unconfirmed_.emplace(delivery_tag, id);
}

std::vector<std::string> PublishPipeline::take_unconfirmed(uint64_t delivery_tag, bool multiple) {
  std::vector<std::string> ids;
  if (multiple) {
    const auto end = unconfirmed_.upper_bound(delivery_tag);
    for (auto it = unconfirmed_.begin(); it != end; ++it) ids.push_back(std::move(it->second));
    unconfirmed_.erase(unconfirmed_.begin(), end);
  } else if (auto it = unconfirmed_.find(delivery_tag); it != unconfirmed_.end()) {
    ids.push_back(std::move(it->second));
    unconfirmed_.erase(it);
  }
  return ids;
}

size_t PublishPipeline::acked(uint64_t delivery_tag, bool multiple) {
  size_t confirmed = 0;
  for (const std::string& id : take_unconfirmed(delivery_tag, multiple)) {
    auto it = messages_.find(id);
    if (it == messages_.end()) continue;
    it->second.confirmed = true;
    ++confirmed;
    complete_if_ready(it);
  }
  return confirmed;
}

void PublishPipeline::nacked(uint64_t delivery_tag, bool multiple) {
  for (const std::string& id : take_unconfirmed(delivery_tag, multiple)) {
    auto it = messages_.find(id);
    if (it == messages_.end()) continue;
    it->second.tag = 0;
    fail_call(it->second.call, BrokerError{503, "RabbitMQ refused to store the message (nack); retry"});
  }
}

void PublishPipeline::returned(const std::string& id, const std::string& reason) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  fail_call(it->second.call, BrokerError{503, "RabbitMQ routed the message to no queue (" + reason +
                                                  "): the log queue is missing; retry shortly"});
}

void PublishPipeline::seen(const std::string& id, const Cursor& cursor) {
  auto it = messages_.find(id);
  if (it == messages_.end()) return;
  Message& m = it->second;
  m.seen = true;
  m.call->cursors[m.index] = cursor;
  complete_if_ready(it);
}

void PublishPipeline::complete_if_ready(std::unordered_map<std::string, Message>::iterator it) {
  if (!it->second.confirmed || !it->second.seen) return;
  std::shared_ptr<Call> call = std::move(it->second.call);
  if (it->second.tag != 0) unconfirmed_.erase(it->second.tag);
  messages_.erase(it);
  if (call->finished || --call->remaining > 0) return;
  PublishResult result;
  result.ok = true;
  result.cursors = std::move(call->cursors);
  finish(*call, std::move(result));
}

void PublishPipeline::connection_lost() {
  std::vector<std::string> resend;
  for (auto& [tag, id] : unconfirmed_) {
    auto it = messages_.find(id);
    if (it != messages_.end() && !it->second.confirmed && !it->second.seen) resend.push_back(id);
  }
  unconfirmed_.clear();
  for (auto it = messages_.begin(); it != messages_.end();) {
    auto next = std::next(it);
    it->second.tag = 0;
    if (it->second.seen && !it->second.confirmed) {
      // The consumer only receives what the log has stored: as good as a confirm.
      it->second.confirmed = true;
      complete_if_ready(it);
    }
    it = next;
  }
  to_send_.insert(to_send_.begin(), resend.begin(), resend.end());
}

void PublishPipeline::expire(Clock::time_point now) {
  while (!calls_.empty() && (calls_.front()->finished || calls_.front()->deadline <= now)) {
    std::shared_ptr<Call> call = std::move(calls_.front());
    calls_.pop_front();
    fail_call(call, BrokerError{503, "RabbitMQ did not confirm the publish in time (it may still be delivered); "
                                     "retry if it must arrive"});
  }
}

void PublishPipeline::fail_all(const BrokerError& error) {
  std::vector<Submitted> batch;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
  }
  for (Submitted& s : batch) {
    in_pipeline_ -= s.items.size();
    s.done(failure(error.message));
  }
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& call : calls) fail_call(call, error);
  messages_.clear();
  to_send_.clear();
  unconfirmed_.clear();
}

void PublishPipeline::fail_call(std::shared_ptr<Call> call, const BrokerError& error) {
  if (call->finished) return;
  for (const std::string& id : call->ids) {
    auto it = messages_.find(id);
    if (it == messages_.end()) continue;
    if (it->second.tag != 0) unconfirmed_.erase(it->second.tag);
    messages_.erase(it);
  }
  PublishResult result;
  result.ok = false;
  result.error = error;
  finish(*call, std::move(result));
}

void PublishPipeline::finish(Call& call, PublishResult result) {
  call.finished = true;
  in_pipeline_ -= call.ids.size();
  // The call may wait in calls_ behind an older one until its deadline: keep it small.
  call.ids = {};
  PublishDone done = std::move(call.done);
  if (done) done(std::move(result));
}

}  // namespace herald
