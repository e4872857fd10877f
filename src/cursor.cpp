#include "src/cursor.h"

#include <charconv>

namespace herald {

std::string Cursor::str() const { return epoch + "-" + std::to_string(seq); }

std::optional<Cursor> parse_cursor(std::string_view text) {
  const auto dash = text.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= text.size() || text.size() > 80)
    return std::nullopt;
  const auto epoch = text.substr(0, dash);
  for (char c : epoch) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!ok) return std::nullopt;
  }
  uint64_t seq = 0;
  const auto digits = text.substr(dash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return Cursor{std::string(epoch), seq};
}

}  // namespace herald
