#include "src/presence.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "broker/broker.h"
#include "src/clock.h"
#include "src/hub.h"
#include "src/message.h"

namespace herald {
namespace {

// How often the ticker looks at lingering users and silent nodes.
constexpr int64_t kTickMs = 250;

using nlohmann::json;

json info_json(const std::string& info) {
  if (info.empty()) return nullptr;
  auto j = json::parse(info, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::string info_text(const json& j) { return j.is_null() ? std::string() : j.dump(); }

std::string event_message(const std::string& node, const PresenceEvent& e) {
  json m = {{"k", e.join ? "join" : "leave"}, {"n", node}, {"c", e.channel}, {"u", e.user}};
  if (e.join && !e.info.empty()) m["i"] = info_json(e.info);
  return m.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Presence::Presence(const Namespaces& namespaces, Hub& hub, PresenceOptions options, std::string node_id)
    : namespaces_(namespaces), hub_(hub), options_(options), node_id_(std::move(node_id)),
      own_id_json_(json(node_id_).dump()), table_(options.limits) {}

Presence::~Presence() { stop(); }

void Presence::start(Broker& broker) {
  broker_ = &broker;
  ticker_ = std::thread([this] { run(); });
}

void Presence::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (!ticker_.joinable()) return;
  ticker_.join();
  // Best effort: a node that misses it expires this one after the timeout.
  broker_->publish_node_state(json({{"k", "bye"}, {"n", node_id_}}).dump());
}

bool Presence::enabled(std::string_view channel) const { return namespaces_.for_channel(channel).presence; }

void Presence::publish_changes(PresenceChanges& changes) {
  // Under mu_, so events reach the ring and messages the outbox in table order. Once
  // stopping, the loops may be gone and their clients are leaving anyway.
  if (!stopping_)
    for (const auto& e : changes.events) hub_.push_event(build_presence_event(e.join, e.channel, e.user, e.info));
  bool queued = false;
  for (const auto& e : changes.announce) {
    if (outbox_.size() >= options_.outbox_limit) {
      // The broker is not keeping up (or away); the next snapshot carries the state.
      outbox_drops_++;
      continue;
    }
    outbox_.push_back(event_message(node_id_, e));
    queued = true;
  }
  if (queued) wake_.notify_one();
}

bool Presence::join(const std::string& channel, const PresenceMember& member) {
  std::lock_guard lock(mu_);
  PresenceChanges changes;
  if (!table_.local_join(channel, member.user, member.info, changes)) return false;
  publish_changes(changes);
  return true;
}

void Presence::leave(const std::string& channel, const std::string& user) {
  std::lock_guard lock(mu_);
  PresenceChanges changes;
  table_.local_leave(channel, user, mono_ms(), changes);
  publish_changes(changes);
}

void Presence::touch(const std::string& channel, const PresenceMember& member) {
  if (!enabled(channel)) return;
  std::lock_guard lock(mu_);
  PresenceChanges changes;
  if (table_.local_join(channel, member.user, member.info, changes))
    table_.local_leave(channel, member.user, mono_ms(), changes);
  publish_changes(changes);
}

void Presence::on_node_state(std::string_view payload) {
  // Our own messages come back (every broker delivers to every node): skip them before
  // parsing, since snapshots can be large. Keys are written sorted, so "n" follows the
  // short "k" near the start; anything else is parsed and checked below.
  const auto at = payload.find(",\"n\":");
  if (at != std::string_view::npos && at < 24 && payload.compare(at + 5, own_id_json_.size(), own_id_json_) == 0) {
    const size_t after = at + 5 + own_id_json_.size();
    if (after < payload.size() && (payload[after] == ',' || payload[after] == '}')) return;
  }
  const auto m = json::parse(payload, nullptr, false);
  if (!m.is_object()) return;
  const auto node = m.find("n");
  const auto kind = m.find("k");
  if (node == m.end() || !node->is_string() || kind == m.end() || !kind->is_string()) return;
  if (node->get_ref<const std::string&>() == node_id_) return;  // our own, back from the broker
  const std::string& from = node->get_ref<const std::string&>();
  const std::string& k = kind->get_ref<const std::string&>();
  const int64_t now = mono_ms();

  if (k == "join" || k == "leave") {
    const auto c = m.find("c");
    const auto u = m.find("u");
    if (c == m.end() || !c->is_string() || u == m.end() || !u->is_string()) return;
    std::string info;
    if (auto i = m.find("i"); i != m.end()) info = info_text(*i);
    std::lock_guard lock(mu_);
    PresenceChanges changes;
    if (k == "join")
      table_.remote_join(from, *c, *u, info, now, changes);
    else
      table_.remote_leave(from, *c, *u, now, changes);
    publish_changes(changes);
    return;
  }
  if (k == "bye") {
    std::lock_guard lock(mu_);
    PresenceChanges changes;
    table_.remote_gone(from, changes);
    publish_changes(changes);
    return;
  }
  if (k != "beat") return;
  PresenceListing listing;
  if (auto p = m.find("p"); p != m.end() && p->is_object()) {
    for (const auto& [channel, members] : p->items()) {
      if (!members.is_array()) continue;
      auto& out = listing[channel];
      for (const auto& pair : members)
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string())
          out.push_back({pair[0].get<std::string>(), info_text(pair[1])});
    }
  }
  ChannelCounts counts;
  if (auto s = m.find("s"); s != m.end() && s->is_object()) {
    for (const auto& [channel, n] : s->items()) {
      if (counts.size() >= options_.max_counted_channels) break;
      if (n.is_number_unsigned()) counts[channel] = n.get<uint64_t>();
    }
  }
  std::lock_guard lock(mu_);
  PresenceChanges changes;
  table_.remote_snapshot(from, listing, std::move(counts), now, changes);
  publish_changes(changes);
}

std::string Presence::snapshot_message() const {
  json p = json::object();
  for (const auto& [channel, members] : table_.local_listing()) {
    json list = json::array();
    for (const auto& m : members) list.push_back(json::array({m.user, info_json(m.info)}));
    p[channel] = std::move(list);
  }
  // Counts of the busiest channels, if there are more than a snapshot carries.
  ChannelCounts local = hub_.local_counts("");
  std::vector<std::pair<std::string, uint64_t>> busiest(local.begin(), local.end());
  if (busiest.size() > options_.max_counted_channels) {
    std::nth_element(busiest.begin(), busiest.begin() + static_cast<std::ptrdiff_t>(options_.max_counted_channels),
                     busiest.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    busiest.resize(options_.max_counted_channels);
  }
  json s = json::object();
  for (const auto& [channel, n] : busiest) s[channel] = n;
  json m = {{"k", "beat"}, {"n", node_id_}, {"p", std::move(p)}, {"s", std::move(s)}};
  return m.dump(-1, ' ', false, json::error_handler_t::replace);
}

void Presence::run() {
  int64_t next_beat = 0;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t now = mono_ms();
    PresenceChanges changes;
    table_.expire(now, changes);
    publish_changes(changes);
    if (now >= next_beat) {
      outbox_.push_back(snapshot_message());  // never dropped: it is what repairs the others
      next_beat = now + options_.heartbeat_ms;
    }
    if (!outbox_.empty()) {
      std::vector<std::string> out;
      out.swap(outbox_);
      // Published without the lock (the memory broker delivers inline), in order: only
      // this thread publishes.
      lock.unlock();
      for (auto& payload : out) broker_->publish_node_state(std::move(payload));
      lock.lock();
      continue;
    }
    wake_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(kTickMs, std::max<int64_t>(1, next_beat - now))),
                   [&] { return stopping_ || !outbox_.empty(); });
  }
}

std::vector<PresenceMember> Presence::members(const std::string& channel) const {
  std::lock_guard lock(mu_);
  return table_.members(channel);
}

ChannelCounts Presence::counts(const std::string& prefix) const {
  ChannelCounts out = hub_.local_counts(prefix);
  std::lock_guard lock(mu_);
  for (const auto& [channel, n] : table_.remote_counts(prefix)) out[channel] += n;
  return out;
}

size_t Presence::entries() const {
  std::lock_guard lock(mu_);
  return table_.entries();
}

size_t Presence::nodes() const {
  std::lock_guard lock(mu_);
  return table_.nodes();
}

uint64_t Presence::overflows() const {
  std::lock_guard lock(mu_);
  return table_.overflows();
}

}  // namespace herald
