// herald-scores: simulates football matches and publishes them to a Herald server,
// the live feed behind clients/scores/ (the /scores/ page).
//
// Every game minute it sends one POST /api/publish with an array: each match's
// events (or a "minute" update) on scores:<match-id>, then the state of every
// match on scores:summary. Each message carries the whole match state, so a page
// that subscribes late is up to date after one message.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tools/scores/match_sim.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kPauseBetweenRounds = 10;  // game minutes between the last whistle and the next round

struct Options {
  std::string url = "http://127.0.0.1:8080";
  int matches = 4;
  double speed = 1.0;  // game minutes per second
  uint64_t seed = 0;
  bool seed_set = false;
  bool loop = false;
  bool quiet = false;
  std::string key;
};

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: herald-scores [options]\n"
               "Publishes simulated football matches to scores:<match-id> and scores:summary.\n"
               "  --url URL        Herald server (default http://127.0.0.1:8080)\n"
               "  --matches N      matches played at once, 1 to 8 (default 4)\n"
               "  --speed X        game minutes per second (default 1; 60 plays a match in about 1.7 s)\n"
               "  --seed N         replay the same matches (default: from the clock, printed at start)\n"
               "  --loop           start a new round after every final whistle instead of exiting\n"
               "  --key KEY        publish key (Authorization: Bearer KEY) when herald has --publish-key\n"
               "  --quiet          print only the results\n");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "herald-scores: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--url") {
      o.url = value();
    } else if (a == "--matches") {
      o.matches = std::atoi(value());
    } else if (a == "--speed") {
      o.speed = std::atof(value());
    } else if (a == "--seed") {
      o.seed = std::strtoull(value(), nullptr, 10);
      o.seed_set = true;
    } else if (a == "--key") {
      o.key = value();
    } else if (a == "--loop") {
      o.loop = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "herald-scores: unknown option %s\n", a.c_str());
      usage(stderr);
      return false;
    }
  }
  if (o.matches < 1 || o.matches > static_cast<int>(herald::scores::all_teams().size() / 2)) {
    std::fprintf(stderr, "herald-scores: --matches must be 1 to %zu\n", herald::scores::all_teams().size() / 2);
    return false;
  }
  if (!(o.speed > 0 && o.speed <= 1000)) {
    std::fprintf(stderr, "herald-scores: --speed must be more than 0 and at most 1000 game minutes per second\n");
    return false;
  }
  if (o.url.rfind("http://", 0) != 0) {
    std::fprintf(stderr, "herald-scores: --url must start with http:// (got %s)\n", o.url.c_str());
    return false;
  }
  return true;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "http://host:port/prefix" -> client for host:port, and the path prefix.
struct Target {
  std::string origin;
  std::string prefix;
};
Target split_url(const std::string& url) {
  const auto slash = url.find('/', 7);
  Target t{url.substr(0, slash), slash == std::string::npos ? "" : url.substr(slash)};
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  return t;
}

// A line on stdout for what a spectator would notice.
void log_event(const json& msg) {
  const std::string type = msg["type"];
  if (type == "minute" || type == "pre") return;
  const json& e = msg["event"];
  const std::string side = e.value("team", "");
  const std::string team = side.empty() ? "" : msg[side]["name"].get<std::string>();
  std::string minute = std::to_string(e["minute"].get<int>());
  if (e["added"].get<int>() > 0) minute += "+" + std::to_string(e["added"].get<int>());
  std::string line = minute + "' " + msg["match"].get<std::string>() + " ";
  if (type == "goal") {
    line += "GOAL " + team + " (" + e["player"].get<std::string>();
    if (e.contains("detail")) line += ", " + e["detail"].get<std::string>();
    line += ") " + std::to_string(e["score"][0].get<int>()) + "-" + std::to_string(e["score"][1].get<int>());
  } else if (type == "yellow" || type == "red") {
    line += (type == "yellow" ? "yellow card " : "RED CARD ") + e["player"].get<std::string>() + " (" + team + ")";
  } else {
    line += type + " " + msg["home"]["name"].get<std::string>() + " " + std::to_string(msg["home"]["score"].get<int>()) +
            "-" + std::to_string(msg["away"]["score"].get<int>()) + " " + msg["away"]["name"].get<std::string>();
  }
  std::cout << line << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  using namespace herald::scores;
  Options o;
  if (!parse(argc, argv, o)) return 2;
  if (!o.seed_set) o.seed = static_cast<uint64_t>(unix_ms());
  const Target target = split_url(o.url);
  httplib::Client http(target.origin);
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(5, 0);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);  // headers and body go out as two writes: no Nagle wait between them
  httplib::Headers headers;
  if (!o.key.empty()) headers.emplace("Authorization", "Bearer " + o.key);

  std::cout << "herald-scores: " << o.matches << " matches at " << o.speed << " game minutes/s to " << o.url
            << " (seed " << o.seed << ")" << std::endl;

  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.speed));
  auto next = Clock::now();
  int round = 1;
  int pause = 0;
  bool warned = false;
  std::vector<Match> matches = make_round(o.matches, round, o.seed);
  for (;;) {
    json batch = json::array();
    const int64_t now = unix_ms();
    bool all_done = true;
    for (auto& m : matches) {
      for (auto& msg : m.tick()) {
        msg["sent"] = now;
        if (!o.quiet) log_event(msg);
        batch.push_back({{"channel", "scores:" + m.id()}, {"data", std::move(msg)}});
      }
      all_done = all_done && m.finished();
    }
    json summary = {{"type", "summary"}, {"round", round}, {"sent", now}, {"matches", json::array()}};
    for (const auto& m : matches) summary["matches"].push_back(m.summary());
    batch.push_back({{"channel", "scores:summary"}, {"data", std::move(summary)}});

    auto res = http.Post(target.prefix + "/api/publish", headers, batch.dump(), "application/json");
    if (!res || res->status != 200) {
      // Every message holds the whole state, so the next minute repairs a lost one.
      if (!warned)
        std::cerr << "herald-scores: publish failed ("
                  << (res ? "HTTP " + std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()))
                  << "); retrying every minute\n";
      warned = true;
    } else if (warned) {
      std::cerr << "herald-scores: publishing again\n";
      warned = false;
    }
    std::cout.flush();

    if (all_done) {
      if (pause == 0) {
        std::cout << "results of round " << round << ":\n";
        for (const auto& m : matches) std::cout << "  " << m.id() << " " << m.result_line() << '\n';
        std::cout.flush();
        if (!o.loop) return 0;
      }
      if (++pause > kPauseBetweenRounds) {
        pause = 0;
        matches = make_round(o.matches, ++round, o.seed);
      }
    }
    next += period;
    const auto t = Clock::now();
    if (t - next > std::chrono::seconds(1)) next = t;  // fell behind (a stalled server): do not burst
    std::this_thread::sleep_until(next);
  }
}
