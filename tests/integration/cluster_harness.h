#pragma once
// What the cluster tests share: a set of herald nodes on one fresh RabbitMQ vhost, what
// the publishers were told, and the checks that a subscriber received exactly the log.
// Every case gets a fresh vhost, and with it a log of its own, since herald's exchange
// and queue names are fixed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster_support.h"
#include "herald_process.h"
#include "rabbit_test_support.h"
#include "test_util.h"

namespace herald::test {

inline std::string fresh_vhost_url(const std::string& name) {
  static int cases = 0;
  const std::string vhost = "cluster-" + name + "-" + std::to_string(++cases);
  auto& rabbit = RabbitFixture::get();
  rabbit.ctl("add_vhost " + vhost + " >/dev/null");
  rabbit.ctl("set_permissions -p " + vhost + " guest '.*' '.*' '.*' >/dev/null");
  return rabbit.url() + vhost;
}

// Herald nodes sharing one log.
class Cluster {
 public:
  Cluster(const std::string& name, std::vector<std::string> nodes) : url_(fresh_vhost_url(name)) {
    for (const auto& n : nodes) start(n);
  }
  ~Cluster() {
    // Every node gets SIGTERM first: they drain and leave the broker in parallel.
    for (auto& n : nodes_)
      if (n->pid() > 0) ::kill(n->pid(), SIGTERM);
    nodes_.clear();
  }
  // Starts (or starts again) node `name`; returns its index.
  size_t start(const std::string& name) {
    auto p = std::make_unique<HeraldProcess>(
        std::vector<std::string>{"--broker", url_, "--node-id", name, "--history", "5000"});
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) {
        nodes_[i] = std::move(p);
        return i;
      }
    }
    names_.push_back(name);
    nodes_.push_back(std::move(p));
    return nodes_.size() - 1;
  }
  HeraldProcess& node(size_t i) { return *nodes_.at(i); }
  const std::string& url() const { return url_; }
  int port(size_t i) const { return nodes_.at(i)->port(); }
  size_t size() const { return nodes_.size(); }
  std::vector<int> ports() const {
    std::vector<int> out;
    for (const auto& n : nodes_) out.push_back(n->port());
    return out;
  }

 private:
  std::string url_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<HeraldProcess>> nodes_;
};

struct Sent {
  std::string channel;
  std::string data;
};

// What the publishers were told: id -> message for every 200 answer, and the data of
// every message whose publish failed (it may or may not be in the log).
struct Published {
  std::map<std::string, Sent> acked;
  std::vector<std::string> acked_in_order;  // per publisher, in publish order, publishers one after another
  std::set<std::string> failed_data;
  size_t failed_requests = 0;
};

inline Published collect(const std::vector<const PublishLoop*>& loops) {
  Published p;
  for (const auto* loop : loops) {
    for (const auto& o : loop->outcomes()) {
      if (o.answer.status == 200 && o.ids.size() == o.datas.size()) {
        for (size_t i = 0; i < o.ids.size(); ++i) {
          p.acked.emplace(o.ids[i], Sent{o.channels[i], o.datas[i]});
          p.acked_in_order.push_back(o.ids[i]);
        }
      } else {
        ++p.failed_requests;
        p.failed_data.insert(o.datas.begin(), o.datas.end());
      }
    }
  }
  return p;
}

inline std::string around(const std::vector<std::string>& v, size_t i) {
  std::string s;
  for (size_t k = i >= 2 ? i - 2 : 0; k < std::min(v.size(), i + 3); ++k) s += (k == i ? " [" : " ") + v[k] + (k == i ? "]" : "");
  return s;
}

// Empty when equal, else where they first differ.
inline std::string difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size() || i >= want.size() || got[i] != want[i])
      return "sizes " + std::to_string(got.size()) + " and " + std::to_string(want.size()) + ", first difference at " +
             std::to_string(i) + ": got" + around(got, i) + ", want" + around(want, i);
  }
  return "";
}

inline std::vector<std::string> only_channel(const std::vector<Delivery>& ds, const std::string& channel) {
  std::vector<std::string> out;
  for (const auto& d : ds)
    if (d.channel == channel) out.push_back(d.id);
  return out;
}

// `s` received exactly `log` (ids, in this order) with the data that was published;
// with `order_per_channel`, `log` holds only acknowledged ids. A WebSocket client that resumed with one subscribe per channel gets each channel's
// replay in turn, so for it only the order within each channel is checked.
inline void check_log(const Subscriber& s, const std::vector<std::string>& log, const Published& p,
               const std::vector<std::string>& channels, bool order_per_channel = false) {
  INFO(s.describe());
  CHECK(s.errors().empty());
  const auto ds = s.deliveries();
  std::vector<std::string> ids;
  std::set<std::string> datas;
  for (const auto& d : ds) {
    ids.push_back(d.id);
    CHECK(datas.insert(d.data).second);  // no message twice, even under another id
    auto it = p.acked.find(d.id);
    if (it != p.acked.end()) {
      if (it->second.data != d.data || it->second.channel != d.channel)
        FAIL_CHECK("id " << d.id << " carries " << d.channel << " " << d.data << ", published as "
                         << it->second.channel << " " << it->second.data);
    } else if (!p.failed_data.count(d.data)) {
      FAIL_CHECK("id " << d.id << " carries " << d.data << ", which nobody published");
    }
  }
  if (!order_per_channel) {
    const auto diff = difference(ids, log);
    if (!diff.empty()) FAIL_CHECK(diff);
    return;
  }
  CHECK(ids.size() == log.size());
  for (const auto& c : channels) {
    std::vector<std::string> want;
    for (const auto& id : log)
      if (p.acked.at(id).channel == c) want.push_back(id);
    const auto diff = difference(only_channel(ds, c), want);
    if (!diff.empty()) FAIL_CHECK("channel " << c << ": " << diff);
  }
}

// The ids of a log are in cursor order and all of one epoch.
inline void check_cursor_order(const std::vector<std::string>& log) {
  for (size_t i = 1; i < log.size(); ++i) {
    const auto epoch = log[i].substr(0, log[i].rfind('-'));
    REQUIRE(epoch == log[0].substr(0, log[0].rfind('-')));
    if (seq_of(log[i]) <= seq_of(log[i - 1])) FAIL("cursor order broken at " << i << ":" << around(log, i));
  }
}

inline std::vector<std::unique_ptr<Subscriber>> subscribe_everywhere(const Cluster& cluster, const std::vector<Wire>& wires,
                                                              const std::vector<std::string>& channels) {
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (int port : cluster.ports())
    for (Wire w : wires) subs.push_back(std::make_unique<Subscriber>(w, std::vector<int>{port}, channels));
  for (auto& s : subs) REQUIRE(s->wait_subscribed(10000));
  return subs;
}

// The first `event: stats` of a node's inspector feed (GET /api/inspect/stream); null
// when none came within `timeout_s`.
inline nlohmann::json inspect_snapshot(int port, int timeout_s = 5) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(timeout_s, 0);
  std::string stream, data;
  cli.Get("/api/inspect/stream", [&](const char* bytes, size_t n) {
    stream.append(bytes, n);
    const auto at = stream.find("event: stats\ndata: ");
    const auto end = at == std::string::npos ? at : stream.find('\n', at + 19);
    if (end == std::string::npos) return true;
    data = stream.substr(at + 19, end - at - 19);
    return false;  // one is enough
  });
  return data.empty() ? nlohmann::json() : nlohmann::json::parse(data, nullptr, false);
}

inline void wait_all(const std::vector<std::unique_ptr<Subscriber>>& subs, size_t n, int timeout_ms = 30000) {
  for (auto& s : subs) {
    INFO(s->describe());
    REQUIRE(s->wait_count(n, timeout_ms));
  }
}

}  // namespace herald::test
