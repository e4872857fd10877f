#pragma once
#include "transports/http/event_loop.h"

namespace herald {
// POST /api/publish, GET /healthz, GET /metrics and the static files under /.
void install_routes(ServerContext& ctx);
// GET /api/presence and GET /api/channels (presence_api.cpp).
void install_presence_routes(ServerContext& ctx);
}  // namespace herald
