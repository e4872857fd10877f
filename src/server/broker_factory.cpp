#include "src/server/broker_factory.h"

#include <stdexcept>

#include "broker/memory/broker_memory.h"
#ifdef HERALD_WITH_RABBITMQ
#include "broker/rabbitmq/broker_rabbitmq.h"
#endif

namespace herald {

std::unique_ptr<Broker> make_broker(const Config& config) {
  if (config.broker == "memory") return std::make_unique<MemoryBroker>();
  if (config.broker.rfind("amqp://", 0) == 0) {
#ifdef HERALD_WITH_RABBITMQ
    RabbitOptions options;
    options.max_age = std::to_string(config.history_age_s) + "s";
    return std::make_unique<RabbitBroker>(config.broker, options);
#else
    throw std::invalid_argument("--broker: this build has no RabbitMQ support");
#endif
  }
  throw std::invalid_argument("--broker: expected 'memory' or amqp://user:pass@host:port/vhost, got '" + config.broker + "'");
}

}  // namespace herald
