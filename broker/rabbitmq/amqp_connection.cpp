#include "broker/rabbitmq/amqp_connection.h"

#include <amqp_tcp_socket.h>
#include <spdlog/spdlog.h>

namespace herald {
namespace {

amqp_bytes_t bytes_of(std::string_view s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string string_of(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

timeval timeval_of(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

std::optional<int64_t> integer_of(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8: return v.value.i8;
    case AMQP_FIELD_KIND_U8: return v.value.u8;
    case AMQP_FIELD_KIND_I16: return v.value.i16;
    case AMQP_FIELD_KIND_U16: return v.value.u16;
    case AMQP_FIELD_KIND_I32: return v.value.i32;
    case AMQP_FIELD_KIND_U32: return v.value.u32;
    case AMQP_FIELD_KIND_I64: return v.value.i64;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: return static_cast<int64_t>(v.value.u64);
    default: return std::nullopt;
  }
}

}  // namespace

FieldTable& FieldTable::add(std::string key, std::string utf8) {
  const std::string& k = strings_.emplace_back(std::move(key));
  const std::string& v = strings_.emplace_back(std::move(utf8));
  amqp_table_entry_t e{};
  e.key = bytes_of(k);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = bytes_of(v);
  entries_.push_back(e);
  return *this;
}

FieldTable& FieldTable::add(std::string key, int64_t value) {
  const std::string& k = strings_.emplace_back(std::move(key));
  amqp_table_entry_t e{};
  e.key = bytes_of(k);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  entries_.push_back(e);
  return *this;
}

amqp_table_t FieldTable::table() {
  amqp_table_t t;
  t.num_entries = static_cast<int>(entries_.size());
  t.entries = entries_.empty() ? nullptr : entries_.data();
  return t;
}

const std::string* AmqpMessage::text_header(std::string_view key) const {
  for (const auto& [k, v] : text_headers)
    if (k == key) return &v;
  return nullptr;
}

std::optional<int64_t> AmqpMessage::int_header(std::string_view key) const {
  for (const auto& [k, v] : int_headers)
    if (k == key) return v;
  return std::nullopt;
}

AmqpConnection::~AmqpConnection() { close(); }

void AmqpConnection::fail(const std::string& what, int code) {
  sound_ = false;
  throw AmqpError(what, code);
}

void AmqpConnection::open(const AmqpUrl& url, std::chrono::seconds heartbeat, std::chrono::milliseconds timeout,
                          const std::string& connection_name) {
  close();
  state_ = amqp_new_connection();
  if (!state_) throw AmqpError("out of memory creating an AMQP connection");
  amqp_socket_t* socket = amqp_tcp_socket_new(state_);
  if (!socket) throw AmqpError("out of memory creating an AMQP socket");
  const timeval tv = timeval_of(timeout);
  const int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
  if (rc != AMQP_STATUS_OK)
    throw AmqpError("cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + amqp_error_string2(rc));
  amqp_set_handshake_timeout(state_, &tv);
  amqp_set_rpc_timeout(state_, &tv);

  // consumer_cancel_notify makes the broker tell us when the log queue is deleted
  // under our consumer instead of silently going quiet; connection.blocked explains a
  // stall when the broker hits a resource alarm.
  amqp_table_entry_t capabilities[2];
  capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capabilities[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capabilities[0].value.value.boolean = 1;
  capabilities[1].key = amqp_cstring_bytes("connection.blocked");
  capabilities[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capabilities[1].value.value.boolean = 1;
  amqp_table_entry_t props[2];
  props[0].key = amqp_cstring_bytes("capabilities");
  props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  props[0].value.value.table.num_entries = 2;
  props[0].value.value.table.entries = capabilities;
  props[1].key = amqp_cstring_bytes("connection_name");
  props[1].value.kind = AMQP_FIELD_KIND_UTF8;
  props[1].value.value.bytes = bytes_of(connection_name);
  amqp_table_t table{2, props};

  const amqp_rpc_reply_t reply =
      amqp_login_with_properties(state_, url.vhost.c_str(), 0, 131072, static_cast<int>(heartbeat.count()), &table,
                                 AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    sound_ = true;
    return;
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
    throw AmqpError("login to vhost '" + url.vhost + "' as '" + url.user + "' refused: " + string_of(m->reply_text),
                    m->reply_code);
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    throw AmqpError(std::string("login failed: ") + amqp_error_string2(reply.library_error) +
                    " (a wrong user or password also ends this way)");
  throw AmqpError("login failed");
}

void AmqpConnection::close() {
  if (!state_) return;
  if (sound_) {
    sound_ = false;
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
  state_ = nullptr;
  incoming_ = {};
}

void AmqpConnection::check_reply(uint16_t channel, const char* what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(state_);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: fail(std::string(what) + ": " + amqp_error_string2(r.library_error), 0);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
        const std::string text = string_of(m->reply_text);
        const int code = m->reply_code;
        amqp_connection_close_ok_t ok{};
        amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        fail(std::string(what) + ": " + text, code);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
        const std::string text = string_of(m->reply_text);
        const int code = m->reply_code;
        // Acknowledge, so the channel number can be opened again.
        amqp_channel_close_ok_t ok{};
        amqp_send_method(state_, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        throw AmqpError(std::string(what) + ": " + text, code);
      }
      fail(std::string(what) + ": unexpected reply from the broker", 0);
    default: fail(std::string(what) + ": no reply", 0);
  }
}

void AmqpConnection::open_channel(uint16_t channel) {
  amqp_channel_open(state_, channel);
  check_reply(channel, "channel.open");
}

void AmqpConnection::confirm_select(uint16_t channel) {
  amqp_confirm_select(state_, channel);
  check_reply(channel, "confirm.select");
}

void AmqpConnection::declare_exchange(uint16_t channel, const std::string& name, const char* type) {
  amqp_exchange_declare(state_, channel, bytes_of(name), amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
  check_reply(channel, ("exchange.declare '" + name + "'").c_str());
}

std::optional<uint32_t> AmqpConnection::queue_message_count(uint16_t channel, const std::string& name) {
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(state_, channel, bytes_of(name), 1, 0, 0, 0, amqp_empty_table);
  if (ok) return ok->message_count;
  try {
    check_reply(channel, ("queue.declare passive '" + name + "'").c_str());
  } catch (const AmqpError& e) {
    // "NOT_FOUND - no queue ..." means the queue is absent. Other 404s (a stream whose
    // home node is recovering says "home node ... down") mean "not now", not "absent".
    if (e.reply_code != 404 || std::string_view(e.what()).find("no queue") == std::string_view::npos) throw;
    open_channel(channel);
    return std::nullopt;
  }
  throw AmqpError("queue.declare passive '" + name + "': no reply");
}

void AmqpConnection::declare_queue(uint16_t channel, const std::string& name, FieldTable& arguments) {
  amqp_queue_declare(state_, channel, bytes_of(name), 0, 1, 0, 0, arguments.table());
  check_reply(channel, ("queue.declare '" + name + "'").c_str());
}

void AmqpConnection::bind_queue(uint16_t channel, const std::string& queue, const std::string& exchange,
                                const std::string& key) {
  amqp_queue_bind(state_, channel, bytes_of(queue), bytes_of(exchange), bytes_of(key), amqp_empty_table);
  check_reply(channel, ("queue.bind '" + queue + "'").c_str());
}

void AmqpConnection::qos(uint16_t channel, uint16_t prefetch) {
  amqp_basic_qos(state_, channel, 0, prefetch, 0);
  check_reply(channel, "basic.qos");
}

void AmqpConnection::consume(uint16_t channel, const std::string& queue, const std::string& consumer_tag,
                             FieldTable& arguments) {
  amqp_basic_consume(state_, channel, bytes_of(queue), bytes_of(consumer_tag), 0, 0, 0, arguments.table());
  check_reply(channel, ("basic.consume '" + queue + "'").c_str());
}

void AmqpConnection::cancel(uint16_t channel, const std::string& consumer_tag) {
  amqp_basic_cancel(state_, channel, bytes_of(consumer_tag));
  check_reply(channel, "basic.cancel");
}

void AmqpConnection::publish(uint16_t channel, const std::string& exchange, std::string_view routing_key,
                             const std::string& message_id, FieldTable& headers, std::string_view body) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                 AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.message_id = bytes_of(message_id);
  props.headers = headers.table();
  const int rc =
      amqp_basic_publish(state_, channel, bytes_of(exchange), bytes_of(routing_key), 1, 0, &props, bytes_of(body));
  if (rc != AMQP_STATUS_OK) fail(std::string("basic.publish: ") + amqp_error_string2(rc), 0);
}

void AmqpConnection::publish_transient(uint16_t channel, const std::string& exchange, std::string_view body) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 1;  // transient
  const int rc = amqp_basic_publish(state_, channel, bytes_of(exchange), amqp_empty_bytes, 0, 0, &props, bytes_of(body));
  if (rc != AMQP_STATUS_OK) fail(std::string("basic.publish: ") + amqp_error_string2(rc), 0);
}

std::string AmqpConnection::declare_private_queue(uint16_t channel, FieldTable& arguments) {
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(state_, channel, amqp_empty_bytes, 0, 0, 1, 1, arguments.table());
  if (!ok) check_reply(channel, "queue.declare (private)");
  if (!ok) throw AmqpError("queue.declare (private): no reply");
  return string_of(ok->queue);
}

void AmqpConnection::ack(uint16_t channel, uint64_t delivery_tag, bool multiple) {
  const int rc = amqp_basic_ack(state_, channel, delivery_tag, multiple ? 1 : 0);
  if (rc != AMQP_STATUS_OK) fail(std::string("basic.ack: ") + amqp_error_string2(rc), 0);
}

int AmqpConnection::fd() const { return state_ ? amqp_get_sockfd(state_) : -1; }

bool AmqpConnection::has_buffered() const {
  return state_ && (amqp_frames_enqueued(state_) || amqp_data_in_buffer(state_));
}

bool AmqpConnection::next_event(AmqpEvent& event) {
  for (;;) {
    amqp_frame_t frame;
    const timeval zero{0, 0};
    const int rc = amqp_simple_wait_frame_noblock(state_, &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) return false;
    if (rc != AMQP_STATUS_OK) fail(std::string("reading from RabbitMQ: ") + amqp_error_string2(rc), 0);
    bool complete = false;
    try {
      complete = handle_frame(frame, event);
    } catch (...) {
      amqp_maybe_release_buffers(state_);
      throw;
    }
    // handle_frame copied what it needs; let the library reuse its buffers.
    amqp_maybe_release_buffers(state_);
    if (complete) return true;
  }
}

bool AmqpConnection::handle_frame(const amqp_frame_t& frame, AmqpEvent& event) {
  const uint16_t ch = frame.channel;
  if (ch >= incoming_.size()) return false;  // never opened by us
  Incoming& in = incoming_[ch];

  if (frame.frame_type == AMQP_FRAME_HEADER) {
    if (!in.active || in.have_header) return false;
    in.have_header = true;
    in.body_size = frame.payload.properties.body_size;
    const auto* p = static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
    if (p && (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)) in.message.message_id = string_of(p->message_id);
    if (p && (p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
      for (int i = 0; i < p->headers.num_entries; ++i) {
        const amqp_table_entry_t& e = p->headers.entries[i];
        if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)
          in.message.text_headers.emplace_back(string_of(e.key), string_of(e.value.value.bytes));
        else if (auto n = integer_of(e.value))
          in.message.int_headers.emplace_back(string_of(e.key), *n);
      }
    }
    in.message.body.reserve(in.body_size);
    return in.body_size == 0 && finish_incoming(ch, event);
  }
  if (frame.frame_type == AMQP_FRAME_BODY) {
    if (!in.active || !in.have_header) return false;
    const amqp_bytes_t& part = frame.payload.body_fragment;
    in.message.body.append(static_cast<const char*>(part.bytes), part.len);
    return in.message.body.size() >= in.body_size && finish_incoming(ch, event);
  }
  if (frame.frame_type != AMQP_FRAME_METHOD) return false;

  const void* decoded = frame.payload.method.decoded;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      const auto* m = static_cast<const amqp_basic_deliver_t*>(decoded);
      in = Incoming{};
      in.active = true;
      in.message.delivery_tag = m->delivery_tag;
      in.message.routing_key = string_of(m->routing_key);
      return false;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* m = static_cast<const amqp_basic_return_t*>(decoded);
      in = Incoming{};
      in.active = true;
      in.returned = true;
      in.reply_code = m->reply_code;
      in.reply_text = string_of(m->reply_text);
      in.message.routing_key = string_of(m->routing_key);
      return false;
    }
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
      event = AmqpEvent{};
      event.kind = AmqpEvent::Kind::ack;
      event.channel = ch;
      event.delivery_tag = m->delivery_tag;
      event.multiple = m->multiple != 0;
      return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
      event = AmqpEvent{};
      event.kind = AmqpEvent::Kind::nack;
      event.channel = ch;
      event.delivery_tag = m->delivery_tag;
      event.multiple = m->multiple != 0;
      return true;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
      const auto* m = static_cast<const amqp_basic_cancel_t*>(decoded);
      // The connection itself is sound: the owner closes it politely and starts over.
      throw AmqpError("RabbitMQ cancelled consumer '" + string_of(m->consumer_tag) + "' (its queue was deleted?)");
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_channel_close_t*>(decoded);
      throw AmqpError("RabbitMQ closed channel " + std::to_string(ch) + ": " + string_of(m->reply_text),
                      m->reply_code);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
      const std::string text = string_of(m->reply_text);
      const int code = m->reply_code;
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      fail("RabbitMQ closed the connection: " + text, code);
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* m = static_cast<const amqp_connection_blocked_t*>(decoded);
      event = AmqpEvent{};
      event.kind = AmqpEvent::Kind::blocked;
      event.text = string_of(m->reason);
      return true;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      event = AmqpEvent{};
      event.kind = AmqpEvent::Kind::unblocked;
      return true;
    default:
      spdlog::debug("rabbitmq: ignoring method {:#x} on channel {}", frame.payload.method.id, ch);
      return false;
  }
}

bool AmqpConnection::finish_incoming(uint16_t channel, AmqpEvent& event) {
  Incoming& in = incoming_[channel];
  event = AmqpEvent{};
  event.kind = in.returned ? AmqpEvent::Kind::returned : AmqpEvent::Kind::delivery;
  event.channel = channel;
  event.reply_code = in.reply_code;
  event.text = std::move(in.reply_text);
  event.message = std::move(in.message);
  in = Incoming{};
  return true;
}

}  // namespace herald
