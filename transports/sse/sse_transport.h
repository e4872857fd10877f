#pragma once
#include <string>

#include "transports/http/event_loop.h"

namespace herald {
// GET /sse?channel=a&channel=b[&since=CURSOR][&padding=1]: a Server-Sent Events stream.
void handle_sse(EventLoop& loop, Conn& conn, HttpRequest& req);
// The head of a 200 event-stream answer: chunked and kept alive for HTTP/1.1, else
// ended by closing. Shared by every SSE stream Herald serves (channels, inspector).
std::string sse_response_head(bool chunked);
}  // namespace herald
