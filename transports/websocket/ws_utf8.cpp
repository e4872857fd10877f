// Streaming UTF-8 validation for text messages and close reasons.
// The state between pieces is only "how many continuation bytes are still due and
// which range the next one must fall in", which is what lets a code point be split
// across frames or TCP reads (RFC 3629 section 4 gives the well-formed ranges).
#include <cstring>

#include "transports/websocket/ws_codec.h"

namespace herald::ws {
namespace {

constexpr uint64_t high_bits = 0x8080808080808080ULL;

// Skips the ASCII prefix of [p, end) eight bytes at a time: chat and JSON traffic is
// mostly ASCII, and this keeps validation far cheaper than the copy that precedes it.
const unsigned char* skip_ascii(const unsigned char* p, const unsigned char* end) {
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (word & high_bits) break;
    p += 8;
  }
  while (p < end && *p < 0x80) ++p;
  return p;
}

}  // namespace

void Utf8Validator::reset() {
  pending_ = 0;
  low_ = 0x80;
  high_ = 0xBF;
  failed_ = false;
}

bool Utf8Validator::feed(std::string_view bytes) {
  if (failed_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  while (p < end) {
    if (pending_ == 0) {
      p = skip_ascii(p, end);
      if (p == end) break;
      const unsigned char lead = *p++;
      low_ = 0x80;
      high_ = 0xBF;
      if (lead >= 0xC2 && lead <= 0xDF) {
        pending_ = 1;
      } else if (lead >= 0xE0 && lead <= 0xEF) {
        pending_ = 2;
        if (lead == 0xE0) low_ = 0xA0;   // below: overlong forms of U+0000-07FF
        if (lead == 0xED) high_ = 0x9F;  // above: the surrogates U+D800-DFFF
      } else if (lead >= 0xF0 && lead <= 0xF4) {
        pending_ = 3;
        if (lead == 0xF0) low_ = 0x90;   // below: overlong forms of U+0000-FFFF
        if (lead == 0xF4) high_ = 0x8F;  // above: beyond U+10FFFF
      } else {
        // 80-BF cannot lead, C0/C1 only start overlongs, F5-FF exceed U+10FFFF.
        failed_ = true;
        return false;
      }
      continue;
    }
    const unsigned char c = *p++;
    if (c < low_ || c > high_) {
      failed_ = true;
      return false;
    }
    low_ = 0x80;
    high_ = 0xBF;
    --pending_;
  }
  return true;
}

bool is_valid_utf8(std::string_view text) {
  Utf8Validator v;
  return v.feed(text) && v.finish();
}

}  // namespace herald::ws
