#pragma once
// An in-process Herald node for the fuzzers of client input that only the server's
// own code paths can judge (query strings, publish bodies, WebSocket commands): the
// real routes, transports, access rules, hub and memory broker behind one EventLoop,
// driven like the HTTP library drives it but over a socketpair instead of a listener.
// Everything is built fresh for each input, so a reproducer replays alone.
//
// Fixed setup the seeds and dictionaries rely on:
//   token secret  "fuzz-secret"   (tokens in the corpora are signed with it)
//   publish key   "fuzz-key"
//   namespaces    "priv" private; "chat" clients may publish; "score" history 5
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::fuzz {

inline constexpr std::string_view kTokenSecret = "fuzz-secret";
inline constexpr std::string_view kPublishKey = "fuzz-key";

// A token signed with kTokenSecret: channels "*", publish "*", no expiry.
std::string full_rights_token();

struct ExchangeOptions {
  bool tick = false;   // run one heartbeat tick after the input
  bool drain = false;  // then shut the node down as SIGTERM does
};

// Opens one connection, writes `input` to it (in pieces, as the socket allows), lets
// the node answer, then closes the client side and returns everything the node wrote.
// Aborts when the node breaks an invariant every input must keep: after the close no
// connection, subscription or counted stream is left behind.
std::string exchange(std::string_view input, ExchangeOptions options = {});

// Frames `payload` as one masked client WebSocket frame.
std::string client_frame(uint8_t opcode, std::string_view payload);

}  // namespace herald::fuzz
