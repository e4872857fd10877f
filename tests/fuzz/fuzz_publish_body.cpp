// libFuzzer target for the publish API's body (POST /api/publish: one message or an
// array of them), through the real route inside an in-process node (fuzz_node.h).
//
// Input: one byte choosing the caller (0: the publish key, 1: a token with every
// right, 2: nobody, 3: a wrong key), then the body. Every answer must be a complete
// HTTP response with a status the API documents.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_node.h"

using namespace herald::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string wire = "POST /api/publish HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n";
  switch (data[0] % 4) {
    case 0: wire += "Authorization: Bearer " + std::string(kPublishKey) + "\r\n"; break;
    case 1: wire += "Authorization: Bearer " + full_rights_token() + "\r\n"; break;
    case 2: break;
    case 3: wire += "Authorization: Bearer not-the-key\r\n"; break;
  }
  wire += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  wire += body;
  const std::string answer = exchange(wire);
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) std::abort();
  const int status = std::atoi(answer.c_str() + 9);
  const bool documented = status == 200 || status == 400 || status == 401 || status == 403 || status == 413;
  if (!documented) std::abort();
  if ((data[0] % 4) >= 2 && status == 200) std::abort();  // no publish without rights
  return 0;
}
