#pragma once
// Builds complete HTTP/1.1 responses as bytes. Every response carries the CORS
// headers Herald's browser clients need, so no route has to remember them.
#include <string>
#include <string_view>

namespace herald {

const char* status_text(int status);

// A full response with Content-Length. `extra_headers` is zero or more complete
// "Name: value\r\n" lines.
std::string http_response(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                          std::string_view extra_headers = {});

// {"error":{"code":"...","message":"..."}} with the given status.
std::string json_error_body(std::string_view code, std::string_view message);

inline constexpr std::string_view kCorsHeaders =
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Expose-Headers: Content-Length, Content-Type\r\n";

}  // namespace herald

namespace herald {
struct ClientError;
// The JSON error response for a client mistake found by the core.
std::string error_response(const ClientError& error, bool keep_alive);
}  // namespace herald
