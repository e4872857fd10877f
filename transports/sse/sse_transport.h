#pragma once
#include "transports/http/event_loop.h"

namespace herald {
// GET /sse?channel=a&channel=b[&since=CURSOR][&padding=1]: a Server-Sent Events stream.
void handle_sse(EventLoop& loop, Conn& conn, HttpRequest& req);
}  // namespace herald
