// POST /api/publish: {"channel":..,"data":..} or an array of them. Answers only
// once the broker holds the messages (the memory broker at once; RabbitMQ after its
// confirm), with their cursors.
#include <nlohmann/json.hpp>

#include "src/auth/access.h"
#include "src/clock.h"
#include "src/server/api_routes.h"
#include "src/subscribe_request.h"
#include "transports/http/http_response.h"

namespace herald {
namespace {

std::optional<ClientError> read_items(const std::string& body, std::vector<PublishItem>& items, bool& batch) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded())
    return ClientError{400, "invalid_json", "the body must be JSON: {\"channel\":\"c\",\"data\":...} or an array of those"};
  batch = json.is_array();
  if (!batch) json = nlohmann::json::array({std::move(json)});
  if (json.empty()) return ClientError{400, "empty_batch", "the array holds no message"};
  if (json.size() > 1000) return ClientError{400, "batch_too_large", "at most 1000 messages per request"};
  const int64_t now = unix_ms();
  for (auto& item : json) {
    if (!item.is_object())
      return ClientError{400, "invalid_message", "each message is an object {\"channel\":\"c\",\"data\":...}"};
    auto ch = item.find("channel");
    if (ch == item.end() || !ch->is_string())
      return ClientError{400, "missing_channel", "each message needs \"channel\": a string"};
    if (auto err = check_channel(ch->get<std::string>())) return err;
    auto data = item.find("data");
    if (data == item.end()) return ClientError{400, "missing_data", "each message needs \"data\": any JSON value"};
    items.push_back(PublishItem{ch->get<std::string>(), data->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), now});
  }
  return std::nullopt;
}

std::string publish_answer(const PublishResult& r, bool batch, bool keep_alive) {
  if (!r.ok)
    return http_response(r.error.http_status, "application/json", json_error_body("broker_unavailable", r.error.message),
                         keep_alive, "Retry-After: 1\r\n");
  std::string body = batch ? "{\"ids\":[" : "{\"id\":";
  for (size_t i = 0; i < r.cursors.size(); ++i) {
    if (i) body += ',';
    append_json_string(body, r.cursors[i].str());
  }
  body += batch ? "]}" : "}";
  return http_response(200, "application/json", body, keep_alive);
}

}  // namespace

void handle_publish(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](int status, const char* code, const std::string& message, std::string_view extra = {}) {
    ctx.metrics.client_errors++;
    conn.write(http_response(status, "application/json", json_error_body(code, message), keep_alive, extra));
  };
  if (req.method != "POST") return fail(405, "method_not_allowed", "use POST for /api/publish", "Allow: POST\r\n");
  std::vector<PublishItem> items;
  bool batch = false;
  const auto bearer = bearer_of(req.header("authorization"));
  std::vector<std::string> channels;
  auto parse_error = read_items(req.body, items, batch);
  for (const auto& item : items) channels.push_back(item.channel);
  // Authorization is checked before the body's validity is reported, so an anonymous
  // caller learns nothing about what would have been accepted.
  if (auto err = ctx.access.check_api_publish(channels, bearer ? &*bearer : nullptr, unix_ms() / 1000))
    return fail(err->http_status, err->code.c_str(), err->message,
                err->http_status == 401 ? "WWW-Authenticate: Bearer realm=\"herald\"\r\n" : "");
  if (parse_error) return fail(parse_error->http_status, parse_error->code.c_str(), parse_error->message);

  conn.begin_async();
  const uint64_t id = conn.id();
  EventLoop* home = &loop;
  const size_t count = items.size();
  ctx.broker.publish(std::move(items), [home, id, batch, keep_alive, count, &ctx](PublishResult r) {
    if (r.ok) {
      ctx.metrics.published += count;
    } else {
      ctx.metrics.publish_errors++;
    }
    std::string answer = publish_answer(r, batch, keep_alive);
    home->post([id, keep_alive, answer = std::move(answer)](EventLoop& l) mutable {
      if (Conn* c = l.find(id)) c->finish_async(std::move(answer), keep_alive);
    });
  });
}

}  // namespace herald
