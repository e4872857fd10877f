#pragma once
// A football match simulated one game minute at a time: kick-off, goals with their
// scorer, yellow and red cards, added time, half-time and the final whistle. Pure
// logic with a seeded generator, so a seed replays the same matches; the caller
// decides when a minute passes and where the messages go.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace herald::scores {

struct Team {
  std::string name;
  std::string short_name;  // three letters
  std::string color;       // CSS colour of the shirt
  double strength;         // 0.8 (weak) to 1.25 (strong): scales chances
};

// The clubs the simulator draws fixtures from (fictional).
const std::vector<Team>& all_teams();

enum class Phase { Pre, FirstHalf, HalfTime, SecondHalf, FullTime };
const char* phase_code(Phase p);  // "PRE", "1H", "HT", "2H", "FT"

class Match {
 public:
  // The match kicks off after `kickoff_in` ticks.
  Match(std::string id, int round, const Team& home, const Team& away, int kickoff_in, uint64_t seed);

  // One game minute (or one minute of the pre-match countdown or the break) passes.
  // Returns the messages for this match's channel, oldest first: one per event, or
  // one "minute" message when nothing happened. Each carries the whole state, so a
  // page that joins late is complete after its first message. Empty once finished.
  std::vector<nlohmann::json> tick();

  [[nodiscard]] bool finished() const { return phase_ == Phase::FullTime && fulltime_sent_; }
  [[nodiscard]] const std::string& id() const { return id_; }
  [[nodiscard]] nlohmann::json summary() const;   // the entry of scores:summary
  [[nodiscard]] std::string result_line() const;  // "Harbour City 2-1 Ashford Rovers"
  [[nodiscard]] int home_score() const { return side_[0].score; }
  [[nodiscard]] int away_score() const { return side_[1].score; }

 private:
  struct Player {
    std::string name;
    char position;  // G, D, M, F
    int yellows = 0;
    bool off = false;
  };
  struct Side {
    const Team* team;
    std::vector<Player> squad;
    int score = 0;
    int yellows = 0;
    int reds = 0;
  };

  nlohmann::json state(const char* type) const;
  nlohmann::json team_json(int side) const;
  nlohmann::json event_json(const nlohmann::json& e) const;
  void record(std::vector<nlohmann::json>& out, const char* type, int side, const std::string& player,
              const std::string& detail);
  void play_minute(std::vector<nlohmann::json>& out);
  int pick_player(int side, bool scoring);
  double chance();

  std::string id_;
  int round_;
  Side side_[2];
  std::mt19937_64 rng_;
  Phase phase_ = Phase::Pre;
  int countdown_;
  int minute_ = 0;        // the regular minute, 0 to 90
  int added_ = 0;         // minutes played into added time
  int added_time_ = 0;    // announced added time of the current half (0 until announced)
  int break_left_ = 0;    // minutes of the half-time break still to pass
  int tick_ = 0;          // messages of this match so far: lets a page ignore stale state
  bool fulltime_sent_ = false;
  std::vector<nlohmann::json> events_;  // newest last
};

// Draws `count` fixtures (at most all_teams().size() / 2) for round `round`.
std::vector<Match> make_round(int count, int round, uint64_t seed);

}  // namespace herald::scores
