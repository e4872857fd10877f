#pragma once
#include "transports/http/event_loop.h"

namespace herald {
// GET /poll?channel=a[&since=CURSOR][&timeout=SECONDS][&callback=NAME]: long-polling, JSON or JSONP.
void handle_poll(EventLoop& loop, Conn& conn, HttpRequest& req);
}  // namespace herald
