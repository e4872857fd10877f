#include "bench/herald_bench/wire.h"

#include <charconv>
#include <cstring>
#include <random>

namespace herald::bench {
namespace {

bool read_int(std::string_view text, size_t& at, int64_t& out) {
  const char* begin = text.data() + at;
  auto [p, ec] = std::from_chars(begin, text.data() + text.size(), out);
  if (ec != std::errc{}) return false;
  at += static_cast<size_t>(p - begin);
  return true;
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

std::string trimmed(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return std::string(v);
}

}  // namespace

size_t read_bench_data(std::string_view text, size_t from, uint64_t& k, int64_t& t) {
  const auto at = text.find("{\"k\":", from);
  if (at == std::string_view::npos) return std::string_view::npos;
  size_t pos = at + 5;
  int64_t kv = 0;
  if (!read_int(text, pos, kv)) return std::string_view::npos;
  // The padding holds only 'x', so the next "t": is ours.
  const auto tat = text.find("\"t\":", pos);
  if (tat == std::string_view::npos) return std::string_view::npos;
  pos = tat + 4;
  if (!read_int(text, pos, t)) return std::string_view::npos;
  k = static_cast<uint64_t>(kv);
  return pos;
}

std::string bench_data(uint64_t k, int64_t t, size_t size) {
  // Keys in the order Herald's JSON encoder writes them back (sorted).
  std::string out = "{\"k\":" + std::to_string(k) + ",\"p\":\"";
  const size_t rest = std::to_string(t).size() + 7;  // ","t":<t>}
  if (size > out.size() + rest) out.append(size - out.size() - rest, 'x');
  out += "\",\"t\":" + std::to_string(t) + "}";
  return out;
}

bool parse_response_head(std::string_view in, ResponseHead& head) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return false;
  head = ResponseHead{};
  head.size = end + 4;
  std::string_view rest = in.substr(0, end + 2);
  auto eol = rest.find("\r\n");
  const std::string_view status_line = rest.substr(0, eol);
  if (status_line.size() >= 12 && status_line.substr(0, 5) == "HTTP/") {
    std::from_chars(status_line.data() + 9, status_line.data() + 12, head.status);
  }
  rest.remove_prefix(eol + 2);
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    if (iequals_prefix(line, "content-length:")) {
      size_t at = 15;
      while (at < line.size() && line[at] == ' ') ++at;
      std::from_chars(line.data() + at, line.data() + line.size(), head.content_length);
    } else if (iequals_prefix(line, "transfer-encoding:")) {
      head.chunked = line.find("chunked") != std::string_view::npos;
    } else if (iequals_prefix(line, "last-modified:")) {
      head.last_modified = trimmed(line.substr(14));
    } else if (iequals_prefix(line, "etag:")) {
      head.etag = trimmed(line.substr(5));
    }
  }
  return true;
}

FrameStatus parse_ws_frame(std::string_view in, Frame& frame) {
  if (in.size() < 2) return FrameStatus::NeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  if (p[1] & 0x80) return FrameStatus::Error;  // servers never mask
  uint64_t len = p[1] & 0x7F;
  size_t head = 2;
  if (len == 126) {
    if (in.size() < 4) return FrameStatus::NeedMore;
    len = (uint64_t{p[2]} << 8) | p[3];
    head = 4;
  } else if (len == 127) {
    if (in.size() < 10) return FrameStatus::NeedMore;
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
    head = 10;
  }
  if (len > (uint64_t{1} << 32)) return FrameStatus::Error;
  if (in.size() < head + len) return FrameStatus::NeedMore;
  frame.opcode = p[0] & 0x0F;
  frame.fin = (p[0] & 0x80) != 0;
  frame.payload = in.substr(head, static_cast<size_t>(len));
  frame.size = head + static_cast<size_t>(len);
  return FrameStatus::Ok;
}

std::string ws_client_frame(int opcode, std::string_view payload) {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::string out;
  out += static_cast<char>(0x80 | (opcode & 0x0F));
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
  }
  unsigned char mask[4];
  const uint32_t m = static_cast<uint32_t>(rng());
  std::memcpy(mask, &m, 4);
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) out += static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4]));
  return out;
}

long dechunk(std::string_view in, std::string& out, bool& ended) {
  size_t used = 0;
  while (!ended) {
    const auto eol = in.find("\r\n", used);
    if (eol == std::string_view::npos) break;
    size_t size = 0;
    auto [p, ec] = std::from_chars(in.data() + used, in.data() + eol, size, 16);
    if (ec != std::errc{} || (p != in.data() + eol && *p != ';')) return -1;
    const size_t data = eol + 2;
    if (in.size() < data + size + 2) break;
    if (in.compare(data + size, 2, "\r\n") != 0) return -1;
    out.append(in.substr(data, size));
    used = data + size + 2;
    if (size == 0) ended = true;
  }
  return static_cast<long>(used);
}

}  // namespace herald::bench
