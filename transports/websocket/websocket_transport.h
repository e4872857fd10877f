#pragma once
#include "transports/http/event_loop.h"

namespace herald {
// GET /ws with Upgrade: websocket (RFC 6455); channels and since in the query subscribe at open.
void handle_websocket(EventLoop& loop, Conn& conn, HttpRequest& req);
}  // namespace herald
