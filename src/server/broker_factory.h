#pragma once
#include <memory>

#include "broker/broker.h"
#include "src/config.h"

namespace herald {
// "memory" -> the embedded broker; "amqp://..." -> RabbitMQ. Throws on anything else.
std::unique_ptr<Broker> make_broker(const Config& config);
}  // namespace herald
