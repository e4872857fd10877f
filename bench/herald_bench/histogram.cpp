#include "bench/herald_bench/histogram.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>

namespace herald::bench {

int Histogram::bucket_of(uint64_t v) {
  if (v < static_cast<uint64_t>(kExact)) return static_cast<int>(v);
  const int octave = std::bit_width(v) - 1;  // 6 and up
  const int sub = static_cast<int>((v >> (octave - kSubBits)) & ((1 << kSubBits) - 1));
  return std::min(kExact + (octave - 6) * (1 << kSubBits) + sub, kBuckets - 1);
}

double Histogram::middle_of(int bucket) {
  if (bucket < kExact) return bucket;
  const int octave = 6 + (bucket - kExact) / (1 << kSubBits);
  const int sub = (bucket - kExact) % (1 << kSubBits);
  const double width = std::ldexp(1.0, octave - kSubBits);
  return std::ldexp(1.0, octave) + sub * width + width / 2;
}

void Histogram::record(int64_t micros) {
  const uint64_t v = micros < 0 ? 0 : static_cast<uint64_t>(micros);
  counts_[static_cast<size_t>(bucket_of(v))]++;
  count_++;
  max_ = std::max<int64_t>(max_, static_cast<int64_t>(v));
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const auto target = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[static_cast<size_t>(b)];
    if (seen >= target) return std::min(middle_of(b), static_cast<double>(max_));
  }
  return static_cast<double>(max_);
}

std::string Histogram::serialize() const {
  std::string out = std::to_string(count_) + " " + std::to_string(max_);
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) out += " " + std::to_string(i) + ":" + std::to_string(counts_[i]);
  return out;
}

bool Histogram::parse(std::string_view text) {
  clear();
  auto next = [&](std::string_view& token) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text.empty()) return false;
    const auto end = std::min(text.find(' '), text.size());
    token = text.substr(0, end);
    text.remove_prefix(end);
    return true;
  };
  auto number = [](std::string_view s, auto& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
  };
  std::string_view token;
  if (!next(token) || !number(token, count_) || !next(token) || !number(token, max_)) return false;
  uint64_t total = 0;
  while (next(token)) {
    const auto colon = token.find(':');
    size_t index = 0;
    uint64_t n = 0;
    if (colon == std::string_view::npos || !number(token.substr(0, colon), index) ||
        !number(token.substr(colon + 1), n) || index >= counts_.size())
      return false;
    counts_[index] = n;
    total += n;
  }
  return total == count_;
}

}  // namespace herald::bench
