#include "tools/scores/match_sim.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace herald::scores {
namespace {

using nlohmann::json;

constexpr int kHalfTimeBreak = 5;  // game minutes the break lasts on screen
constexpr size_t kRecentEvents = 8;

const char* const kSurnames[] = {
    "Moreau",   "Okafor",  "Lindqvist", "Haddad",   "Costa",     "Novak",   "Brennan",  "Takahashi", "Mensah",
    "Varga",    "Ferreira", "Kowalski", "Duarte",   "Achterberg", "Silva",  "O'Neill",  "Petrov",    "Adeyemi",
    "Laurent",  "Bauer",   "Castillo",  "Nilsen",   "Rahman",    "Ionescu", "Marsh",    "Delgado",   "Kuznetsov",
    "Osei",     "Jansen",  "Romero",    "Fischer",  "Mbeki",     "Aalto",   "Quinn",    "Santos",    "Horvat",
    "Keller",   "Diallo",  "Ricci",     "Lund",     "Ortega",    "Walsh",   "Nakamura", "Berger",    "Camara",
    "Eriksen",  "Vidal",   "Sørensen",  "Almeida",  "Hughes",    "Kovač",   "Benali",   "Strand",    "Moretti",
    "Tanaka",   "Pereira", "Doyle",     "Şahin",    "Vasquez",   "Hartmann", "Obi",     "Lemaire",   "Rossi",
};
constexpr const char* kInitials = "ABCDEFGHJKLMNOPRSTVW";

}  // namespace

const std::vector<Team>& all_teams() {
  static const std::vector<Team> teams = {
      {"Harbour City", "HAR", "#1d4ed8", 1.20},       {"Ashford Rovers", "ASH", "#0f766e", 1.00},
      {"Kingsbridge Town", "KIN", "#6d28d9", 0.95},   {"Valemont", "VAL", "#ca8a04", 1.10},
      {"Porto Alba", "POR", "#0284c7", 1.15},         {"Real Cantera", "CAN", "#475569", 1.05},
      {"Sporting Lumen", "LUM", "#15803d", 1.00},     {"Dynamo Kessel", "DYN", "#1e3a8a", 0.90},
      {"Olympique Sorel", "SOR", "#be185d", 1.10},    {"Atlético Brisa", "BRI", "#ea580c", 1.05},
      {"Westhaven Albion", "WES", "#334155", 0.85},   {"Calder Wanderers", "CAL", "#a16207", 0.90},
      {"Northfield United", "NOR", "#b91c1c", 1.25},  {"Redmoor Athletic", "RED", "#7f1d1d", 0.95},
      {"Lakeside Rangers", "LAK", "#0e7490", 0.85},   {"FC Eisenthal", "EIS", "#111827", 1.00},
  };
  return teams;
}

const char* phase_code(Phase p) {
  switch (p) {
    case Phase::Pre: return "PRE";
    case Phase::FirstHalf: return "1H";
    case Phase::HalfTime: return "HT";
    case Phase::SecondHalf: return "2H";
    case Phase::FullTime: return "FT";
  }
  return "?";
}

Match::Match(std::string id, int round, const Team& home, const Team& away, int kickoff_in, uint64_t seed)
    : id_(std::move(id)), round_(round), side_{{&home, {}}, {&away, {}}}, rng_(seed), countdown_(kickoff_in) {
  // A goalkeeper, four defenders, four midfielders, two forwards; names unique in the match.
  static const char kShape[] = "GDDDDMMMMFF";
  std::vector<size_t> names(std::size(kSurnames));
  std::iota(names.begin(), names.end(), size_t{0});
  std::shuffle(names.begin(), names.end(), rng_);
  size_t next = 0;
  for (auto& s : side_) {
    for (const char* p = kShape; *p; ++p) {
      std::string name(1, kInitials[rng_() % std::char_traits<char>::length(kInitials)]);
      name += ". ";
      name += kSurnames[names[next++]];
      s.squad.push_back(Player{name, *p});
    }
  }
}

double Match::chance() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

int Match::pick_player(int side, bool scoring) {
  // Forwards score most and defenders are booked most; the goalkeeper rarely either.
  // A booked player is careful: a second yellow is rare.
  auto weight = [scoring](const Player& p) {
    if (p.off) return 0.0;
    switch (p.position) {
      case 'G': return scoring ? 0.0 : 0.2;
      case 'D': return scoring ? 1.0 : 2.2;
      case 'M': return scoring ? 3.0 : 2.0;
      default: return scoring ? 6.0 : 1.2;
    }
  };
  auto careful = [&](const Player& p) { return weight(p) * (!scoring && p.yellows > 0 ? 0.2 : 1.0); };
  const auto& squad = side_[side].squad;
  double total = 0;
  for (const auto& p : squad) total += careful(p);
  double r = chance() * total;
  for (size_t i = 0; i < squad.size(); ++i) {
    if (squad[i].off) continue;
    r -= careful(squad[i]);
    if (r <= 0) return static_cast<int>(i);
  }
  for (size_t i = squad.size(); i-- > 0;)
    if (!squad[i].off) return static_cast<int>(i);
  return 0;
}

json Match::team_json(int side) const {
  const Side& s = side_[side];
  return {{"name", s.team->name},   {"short", s.team->short_name}, {"color", s.team->color},
          {"score", s.score},       {"yellows", s.yellows},        {"reds", s.reds}};
}

json Match::state(const char* type) const {
  json events = json::array();
  for (size_t i = events_.size(); i-- > 0 && events.size() < kRecentEvents;) events.push_back(events_[i]);
  return {{"type", type},
          {"match", id_},
          {"round", round_},
          {"tick", tick_},
          {"phase", phase_code(phase_)},
          {"minute", minute_},
          {"added", added_},
          {"added_time", added_time_},
          {"kickoff_in", phase_ == Phase::Pre ? countdown_ : 0},
          {"home", team_json(0)},
          {"away", team_json(1)},
          {"events", std::move(events)}};
}

void Match::record(std::vector<json>& out, const char* type, int side, const std::string& player,
                   const std::string& detail) {
  json e = {{"minute", minute_}, {"added", added_}, {"type", type}, {"score", {side_[0].score, side_[1].score}}};
  if (side >= 0) e["team"] = side == 0 ? "home" : "away";
  if (!player.empty()) e["player"] = player;
  if (!detail.empty()) e["detail"] = detail;
  events_.push_back(e);
  ++tick_;
  json msg = state(type);
  msg["event"] = std::move(e);
  out.push_back(std::move(msg));
}

void Match::play_minute(std::vector<json>& out) {
  for (int s = 0; s < 2; ++s) {
    const int other = 1 - s;
    // About 2.7 goals a match, more for the stronger side and at home, fewer a man down.
    double goal = 0.013 * side_[s].team->strength / std::sqrt(side_[other].team->strength);
    if (s == 0) goal *= 1.1;
    if (minute_ > 75) goal *= 1.2;
    goal *= std::pow(0.75, side_[s].reds) / std::pow(0.85, side_[other].reds);
    if (chance() < goal) {
      const double kind = chance();
      if (kind < 0.02) {  // an own goal: credited to s, scored by a player of the other side
        side_[s].score++;
        record(out, "goal", s, side_[other].squad[static_cast<size_t>(pick_player(other, false))].name, "own goal");
      } else {
        side_[s].score++;
        const char* detail = kind < 0.11 ? "penalty" : kind < 0.26 ? "header" : kind < 0.30 ? "free kick" : "";
        record(out, "goal", s, side_[s].squad[static_cast<size_t>(pick_player(s, true))].name, detail);
      }
    }
    // About 3.6 yellow cards a match; a second one sends the player off.
    if (chance() < 0.02) {
      auto& p = side_[s].squad[static_cast<size_t>(pick_player(s, false))];
      if (++p.yellows >= 2) {
        p.off = true;
        side_[s].reds++;
        record(out, "red", s, p.name, "second yellow");
      } else {
        side_[s].yellows++;
        record(out, "yellow", s, p.name, "");
      }
    }
    if (chance() < 0.0004) {  // a straight red: about one match in twelve
      auto& p = side_[s].squad[static_cast<size_t>(pick_player(s, false))];
      p.off = true;
      side_[s].reds++;
      record(out, "red", s, p.name, "");
    }
  }
}

std::vector<json> Match::tick() {
  std::vector<json> out;
  switch (phase_) {
    case Phase::Pre:
      if (--countdown_ <= 0) {
        phase_ = Phase::FirstHalf;
        record(out, "kickoff", -1, "", "");
      }
      break;
    case Phase::FirstHalf:
    case Phase::SecondHalf: {
      const int end = phase_ == Phase::FirstHalf ? 45 : 90;
      if (minute_ < end) {
        minute_++;
      } else {
        added_++;
      }
      if (minute_ == end && added_time_ == 0)
        added_time_ = phase_ == Phase::FirstHalf ? 1 + static_cast<int>(rng_() % 4) : 2 + static_cast<int>(rng_() % 5);
      play_minute(out);
      if (minute_ == end && added_ == added_time_) {
        if (phase_ == Phase::FirstHalf) {
          phase_ = Phase::HalfTime;
          break_left_ = kHalfTimeBreak;
          record(out, "halftime", -1, "", "");
        } else {
          phase_ = Phase::FullTime;
          record(out, "fulltime", -1, "", "");
          fulltime_sent_ = true;
        }
      }
      break;
    }
    case Phase::HalfTime:
      if (--break_left_ <= 0) {
        phase_ = Phase::SecondHalf;
        minute_ = 45;
        added_ = 0;
        added_time_ = 0;
        record(out, "second_half", -1, "", "");
      }
      break;
    case Phase::FullTime: return out;
  }
  if (out.empty()) {
    ++tick_;
    out.push_back(state(phase_ == Phase::Pre ? "pre" : "minute"));
  }
  return out;
}

json Match::summary() const {
  json s = {{"match", id_},           {"round", round_},    {"tick", tick_},      {"phase", phase_code(phase_)},
            {"minute", minute_},      {"added", added_},    {"kickoff_in", phase_ == Phase::Pre ? countdown_ : 0},
            {"home", team_json(0)},   {"away", team_json(1)}};
  s["last"] = events_.empty() ? json() : events_.back();
  return s;
}

std::string Match::result_line() const {
  return side_[0].team->name + " " + std::to_string(side_[0].score) + "-" + std::to_string(side_[1].score) + " " +
         side_[1].team->name;
}

std::vector<Match> make_round(int count, int round, uint64_t seed) {
  const auto& teams = all_teams();
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(round) * 7919ULL);
  std::vector<size_t> order(teams.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  count = std::clamp(count, 1, static_cast<int>(teams.size() / 2));
  std::vector<Match> matches;
  matches.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    // Kick-offs are staggered two minutes apart so the matches are not in lockstep.
    matches.emplace_back("m" + std::to_string(i + 1), round, teams[order[2 * i]], teams[order[2 * i + 1]], 1 + 2 * i, rng());
  }
  return matches;
}

}  // namespace herald::scores
