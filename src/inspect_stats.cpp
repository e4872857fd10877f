#include "src/inspect_stats.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace herald {

InspectSample InspectSample::read(const Metrics& m, int64_t at_ms) {
  InspectSample s;
  s.at_ms = at_ms;
  for (int k = 0; k < kTransportKinds; ++k) {
    s.connections[k] = m.connections[k].load(std::memory_order_relaxed);
    s.delivered[k] = m.delivered[k].load(std::memory_order_relaxed);
  }
  s.http_connections = m.http_connections.load(std::memory_order_relaxed);
  s.published = m.published.load(std::memory_order_relaxed);
  s.publish_errors = m.publish_errors.load(std::memory_order_relaxed);
  s.slow_consumer_drops = m.slow_consumer_drops.load(std::memory_order_relaxed);
  s.conflated = m.conflated.load(std::memory_order_relaxed);
  s.loop_overflows = m.loop_overflows.load(std::memory_order_relaxed);
  s.limit_refusals = m.limit_refusals.load(std::memory_order_relaxed);
  s.rate_limited = m.rate_limited.load(std::memory_order_relaxed);
  return s;
}

void ChannelTally::add(const std::string& channel, uint64_t subscribers) {
  if (subscribers == 0) return;
  counts_[channel] += subscribers;
  subscriptions_ += subscribers;
}

std::vector<ChannelCount> ChannelTally::top(size_t n) const {
  std::vector<ChannelCount> all;
  all.reserve(counts_.size());
  for (const auto& [channel, count] : counts_) all.push_back({channel, count});
  const auto busier = [](const ChannelCount& a, const ChannelCount& b) {
    return a.subscribers != b.subscribers ? a.subscribers > b.subscribers : a.channel < b.channel;
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), busier);
  all.resize(n);
  return all;
}

void InspectStats::note(int64_t unix_ms, const char* kind, uint64_t before, uint64_t now) {
  if (now <= before) return;
  events_.push_front({unix_ms, kind, now - before});
  if (events_.size() > max_events_) events_.pop_back();
}

std::string InspectStats::update(const InspectSample& now, const ChannelTally& channels,
                                 const InspectNodeState& state) {
  using nlohmann::json;
  const std::optional<InspectSample> before = previous_;
  previous_ = now;
  const double seconds = before && now.at_ms > before->at_ms ? (now.at_ms - before->at_ms) / 1000.0 : 0;
  // Per second since the previous sample; null when there is none to compare with.
  const auto rate = [&](uint64_t then, uint64_t current) -> json {
    if (seconds <= 0) return nullptr;
    return current >= then ? static_cast<double>(current - then) / seconds : 0.0;
  };
  if (before) {
    note(state.unix_ms, "slow_consumer_disconnect", before->slow_consumer_drops, now.slow_consumer_drops);
    note(state.unix_ms, "conflation", before->conflated, now.conflated);
    note(state.unix_ms, "loop_overflow", before->loop_overflows, now.loop_overflows);
  }

  json connections = json::object();
  json delivered = json::object();
  json delivery_rates = json::object();
  double delivery_total = 0;
  for (int k = 0; k < kTransportKinds; ++k) {
    const char* name = transport_name(static_cast<TransportKind>(k));
    int64_t open = now.connections[k];
    // Inspector streams are SSE connections of the node but subscribe to nothing.
    if (static_cast<TransportKind>(k) == TransportKind::Sse) open = std::max<int64_t>(0, open - state.inspectors);
    connections[name] = open;
    delivered[name] = now.delivered[k];
    delivery_rates[name] = rate(before ? before->delivered[k] : 0, now.delivered[k]);
    if (delivery_rates[name].is_number()) delivery_total += delivery_rates[name].get<double>();
  }

  json top = json::array();
  for (const auto& c : channels.top(top_channels_)) top.push_back({{"channel", c.channel}, {"subscribers", c.subscribers}});

  json events = json::array();
  for (const auto& e : events_) events.push_back({{"at", e.unix_ms}, {"kind", e.kind}, {"count", e.count}});

  const json snapshot = {
      {"node", state.node},
      {"at", state.unix_ms},
      {"draining", state.draining},
      {"connections", connections},
      {"tcp_connections", now.http_connections},
      {"inspectors", state.inspectors},
      {"rates",
       {{"publish", rate(before ? before->published : 0, now.published)},
        {"publish_errors", rate(before ? before->publish_errors : 0, now.publish_errors)},
        {"deliver", delivery_rates},
        {"deliver_total", seconds > 0 ? json(delivery_total) : json(nullptr)}}},
      {"totals",
       {{"published", now.published},
        {"publish_errors", now.publish_errors},
        {"delivered", delivered},
        {"limit_refusals", now.limit_refusals},
        {"rate_limited", now.rate_limited}}},
      {"channels",
       {{"count", channels.channels()}, {"subscriptions", channels.subscriptions()}, {"top", top}}},
      {"history", {{"messages", state.history_messages}, {"channels", state.history_channels}}},
      {"broker",
       {{"kind", state.broker_kind},
        {"state", state.broker.state},
        {"detail", state.broker.detail},
        {"lag", state.broker.lag},
        {"pending_confirms", state.broker.pending},
        {"reconnects", state.broker.reconnects},
        {"confirms", state.broker.confirms}}},
      {"slow_consumers",
       {{"disconnects", now.slow_consumer_drops},
        {"disconnects_per_s", rate(before ? before->slow_consumer_drops : 0, now.slow_consumer_drops)},
        {"conflated", now.conflated},
        {"conflated_per_s", rate(before ? before->conflated : 0, now.conflated)},
        {"loop_overflows", now.loop_overflows},
        {"events", events}}},
  };
  return snapshot.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace herald
