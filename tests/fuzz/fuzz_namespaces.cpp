// libFuzzer target for the namespace policy file (--config, JSON): whatever the file
// holds, Namespaces::load either returns a policy whose values are in range or
// throws std::invalid_argument naming the problem; no other exception, no crash.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "src/config.h"
#include "src/namespaces.h"

using namespace herald;

namespace {

const std::string& scratch_file() {
  static const std::string path = [] {
    char name[] = "/tmp/herald-fuzz-config-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) std::abort();
    ::close(fd);
    std::atexit([] { ::unlink(scratch_file().c_str()); });
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = ::open(scratch_file().c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  ::close(fd);
  Config config;
  config.config_file = scratch_file();
  config.client_publish = {"chat"};
  try {
    const Namespaces ns = Namespaces::load(config);
    for (const char* channel : {"chat:a", "priv:x", "score", "x", ":", ""}) {
      const NamespacePolicy& p = ns.for_channel(channel);
      if (p.history < 1 || p.history_age_s < 1) std::abort();
      (void)ns.history_limits(channel);
    }
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).empty()) std::abort();
  }
  return 0;
}
