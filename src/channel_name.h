#pragma once
#include <string_view>

namespace herald {

// Channel names are `[A-Za-z0-9_.:-]{1,128}`; the part before the first ':' is the
// namespace (empty when there is no ':'), which configuration keys on.
[[nodiscard]] bool valid_channel(std::string_view name);
[[nodiscard]] std::string_view channel_namespace(std::string_view name);

}  // namespace herald
