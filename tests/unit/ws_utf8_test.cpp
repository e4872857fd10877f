// Utf8Validator: the well-formed ranges of RFC 3629, streaming across arbitrary
// splits, and the ASCII fast path at every alignment.
#include <catch2/catch.hpp>

#include <string>

#include "transports/websocket/ws_codec.h"

using herald::ws::is_valid_utf8;
using herald::ws::Utf8Validator;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

// Plain encoder used as the reference for exhaustive checks; it writes surrogates
// too, so the validator's refusal of them is what is tested.
std::string encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// Reference decision for a 3-byte string: exactly one well-formed code point, or a
// well-formed sequence of shorter ones.
bool reference_valid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // sequence runs past the end
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

TEST_CASE("utf8: empty and ASCII are valid", "[utf8]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("hello, world"));
  CHECK(is_valid_utf8(std::string(1000, 'x')));
  CHECK(is_valid_utf8(std::string("\0\x7F", 2)));
}

TEST_CASE("utf8: boundaries of each length are valid", "[utf8]") {
  for (uint32_t cp : {0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    INFO("U+" << std::hex << cp);
    CHECK(is_valid_utf8(encode(cp)));
  }
  CHECK(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // κόσμε
  CHECK(is_valid_utf8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"));
}

TEST_CASE("utf8: overlong forms are rejected", "[utf8]") {
  CHECK_FALSE(is_valid_utf8(bytes({0xC0, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xC1, 0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE0, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE0, 0x9F, 0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x80, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x8F, 0xBF, 0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF8, 0x88, 0x80, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80})));
}

TEST_CASE("utf8: surrogates and code points above U+10FFFF are rejected", "[utf8]") {
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xA0, 0x80})));  // U+D800
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xBF, 0xBF})));  // U+DFFF
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80})));  // pair
  CHECK_FALSE(is_valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  CHECK_FALSE(is_valid_utf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF7, 0xBF, 0xBF, 0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xFE})));
  CHECK_FALSE(is_valid_utf8(bytes({0xFF})));
}

TEST_CASE("utf8: stray and missing continuation bytes are rejected", "[utf8]") {
  CHECK_FALSE(is_valid_utf8(bytes({0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xBF})));
  CHECK_FALSE(is_valid_utf8(bytes({'a', 0x80, 'b'})));
  CHECK_FALSE(is_valid_utf8(bytes({0xC2, 0x41})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE1, 0x80, 0x41})));
  CHECK_FALSE(is_valid_utf8(bytes({0xF1, 0x80, 0x80, 0xC2, 0x80})));
}

TEST_CASE("utf8: a sequence truncated at the end is valid so far but not finished", "[utf8]") {
  for (const std::string& s : {bytes({0xC2}), bytes({0xE0, 0xA0}), bytes({0xF0, 0x90, 0x80}), bytes({'a', 0xF4})}) {
    Utf8Validator v;
    CHECK(v.feed(s));
    CHECK_FALSE(v.finish());
    CHECK_FALSE(is_valid_utf8(s));
  }
}

TEST_CASE("utf8: every split of valid text validates piece by piece", "[utf8]") {
  const std::string text = "a\xC2\xB5" "b\xE2\x82\xAC" "c\xF0\x9F\x98\x80" "d\xF4\x8F\xBF\xBF" "e\xED\x9F\xBF";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      Utf8Validator v;
      REQUIRE(v.feed(std::string_view(text).substr(0, i)));
      REQUIRE(v.feed(std::string_view(text).substr(i, j - i)));
      REQUIRE(v.feed(std::string_view(text).substr(j)));
      REQUIRE(v.finish());
    }
  }
}

TEST_CASE("utf8: an invalid byte fails as soon as it is fed", "[utf8]") {
  Utf8Validator v;
  CHECK(v.feed("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));
  CHECK(v.feed("\xF4"));
  CHECK_FALSE(v.feed("\x90"));  // U+110000 is decided by its second byte
  CHECK(v.failed());
  CHECK_FALSE(v.feed("a"));  // sticky
  CHECK_FALSE(v.finish());
  v.reset();
  CHECK(v.feed("a"));
  CHECK(v.finish());
}

TEST_CASE("utf8: the ASCII fast path finds a bad byte at every alignment", "[utf8]") {
  for (size_t pos = 0; pos < 40; ++pos) {
    std::string s(48, 'x');
    s[pos] = static_cast<char>(0x80);
    INFO("bad byte at " << pos);
    CHECK_FALSE(is_valid_utf8(s));
    s[pos] = static_cast<char>(0xC3);  // start of a 2-byte sequence: valid with 0xA9 after
    s[pos + 1] = static_cast<char>(0xA9);
    CHECK(is_valid_utf8(s));
    CHECK_FALSE(is_valid_utf8(s.substr(0, pos + 1)));
  }
}

TEST_CASE("utf8: every code point encodes to valid UTF-8 except surrogates", "[utf8]") {
  size_t wrong = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (is_valid_utf8(encode(cp)) == surrogate) ++wrong;
  }
  CHECK(wrong == 0);
}

TEST_CASE("utf8: all 1-3 byte strings agree with a reference decoder", "[utf8]") {
  size_t wrong = 0;
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    wrong += is_valid_utf8(s) != reference_valid(s);
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      wrong += is_valid_utf8(s) != reference_valid(s);
      if (a < 0xC0) continue;  // 3-byte strings starting with ASCII or a stray byte add nothing new
      for (int c = 0; c < 256; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        wrong += is_valid_utf8(s) != reference_valid(s);
      }
    }
  }
  CHECK(wrong == 0);
}
