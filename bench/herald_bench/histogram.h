#pragma once
// Latency histogram in microseconds with about 3% resolution: exact below 64 us,
// then 32 buckets per power of two up to 2^40 us. Fixed size, so workers can send
// theirs to the coordinator and histograms merge by adding counts.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::bench {

class Histogram {
 public:
  static constexpr int kExact = 64;
  static constexpr int kSubBits = 5;
  static constexpr int kBuckets = kExact + (40 - 6) * (1 << kSubBits);

  void record(int64_t micros);
  void merge(const Histogram& other);
  void clear() { *this = Histogram{}; }

  [[nodiscard]] uint64_t count() const { return count_; }
  [[nodiscard]] int64_t max() const { return max_; }
  // The latency at quantile q (0 to 1), in microseconds: the middle of its bucket.
  [[nodiscard]] double quantile(double q) const;

  // "count max i:n i:n ..." for the buckets in use.
  [[nodiscard]] std::string serialize() const;
  // Reads what serialize() wrote; false on malformed text.
  bool parse(std::string_view text);

 private:
  static int bucket_of(uint64_t v);
  static double middle_of(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace herald::bench
