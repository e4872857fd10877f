#include "src/metrics.h"

namespace herald {

const char* transport_name(TransportKind kind) {
  switch (kind) {
    case TransportKind::Sse: return "sse";
    case TransportKind::LongPoll: return "longpoll";
    case TransportKind::WebSocket: return "websocket";
  }
  return "unknown";
}

}  // namespace herald
