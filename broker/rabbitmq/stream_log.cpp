#include "broker/rabbitmq/stream_log.h"

#include <random>

namespace herald {

bool EpochChain::apply(std::string_view prev, std::string_view next) {
  if (!valid_epoch(next) || prev != current_ || next == current_) return false;
  current_ = std::string(next);
  return true;
}

bool valid_epoch(std::string_view epoch) {
  if (epoch.empty() || epoch.size() > 32) return false;
  for (char c : epoch) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string random_hex(size_t length) {
  static const char* digits = "0123456789abcdef";
  std::random_device device;
  std::mt19937_64 gen((static_cast<uint64_t>(device()) << 32) ^ device());
  std::string out;
  out.reserve(length);
  for (size_t i = 0; i < length; ++i) out.push_back(digits[gen() & 15]);
  return out;
}

bool RecentIds::insert(const std::string& id) {
  if (capacity_ == 0) return true;
  if (!ids_.insert(id).second) return false;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void RecentIds::clear() {
  ids_.clear();
  order_.clear();
}

}  // namespace herald
