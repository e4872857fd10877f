// libFuzzer target for the opening-handshake check.
// Input is read as a loose HTTP request: "METHOD TARGET VERSION", then "Name: value"
// lines up to a blank line; lines after it are allowed origins. Whatever the bytes,
// the answer must be a well-formed accept or one of the documented rejections.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transports/websocket/ws_codec.h"

using namespace herald::ws;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string_view next_line(std::string_view& rest) {
  const size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  HandshakeRequest request;
  HandshakePolicy policy;

  std::string_view line = next_line(rest);
  const size_t sp1 = line.find(' ');
  request.method = std::string(line.substr(0, sp1));
  if (sp1 != std::string_view::npos) {
    const size_t sp2 = line.rfind(' ');
    if (sp2 > sp1) request.version = std::string(line.substr(sp2 + 1));
  }
  while (!rest.empty()) {
    line = next_line(rest);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    request.headers.emplace_back(std::string(name), std::string(value));
  }
  while (!rest.empty()) policy.allowed_origins.emplace_back(next_line(rest));

  const HandshakeResult result = check_handshake(request, policy);
  if (const auto* accept = std::get_if<HandshakeAccept>(&result)) {
    check(request.method == "GET");
    check(accept->accept_key.size() == 28);
    check(accept->subprotocol.empty() || accept->subprotocol == herald_subprotocol);
    const std::string response = build_accept_response(*accept);
    check(response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    check(response.size() >= 4 && response.compare(response.size() - 4, 4, "\r\n\r\n") == 0);
    check(response.find("Extensions") == std::string::npos);
    return 0;
  }
  const auto& reject = std::get<HandshakeReject>(result);
  check(reject.status == 400 || reject.status == 403 || reject.status == 405 || reject.status == 426);
  check(!reject.reason.empty() && reject.reason.size() < 200);
  for (char c : reject.reason) check(static_cast<unsigned char>(c) >= 0x20);
  const std::string response = build_reject_response(reject);
  const size_t body = response.find("\r\n\r\n");
  check(body != std::string::npos);
  check(response.find("Content-Length: " + std::to_string(response.size() - body - 4) + "\r\n") != std::string::npos);
  return 0;
}
