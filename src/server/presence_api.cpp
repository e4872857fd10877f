// GET /api/presence?channel=c: who is in a presence channel, cluster-wide.
// GET /api/channels?prefix=p: channels with their subscriber counts, cluster-wide.
// Both read what may be read: the publish key (the backend) sees everything; anyone
// else, with a token (Authorization: Bearer or ?token=) or none, passes the same checks
// as subscribing to the channel.
#include "src/auth/access.h"
#include "src/channel_name.h"
#include "src/clock.h"
#include "src/presence.h"
#include "src/server/api_routes.h"
#include "src/subscribe_request.h"
#include "transports/http/http_response.h"

namespace herald {
namespace {

constexpr size_t kDefaultChannelLimit = 100;
constexpr size_t kMaxChannelLimit = 1000;

struct Reader {
  bool publish_key = false;
  std::optional<TokenClaims> claims;
};

// The caller's credentials: the publish key, a valid token, or none (an invalid token is an error).
std::optional<ClientError> read_reader(const Access& access, const HttpRequest& req, Reader& out) {
  std::optional<std::string> bearer = bearer_of(req.header("authorization"));
  if (access.is_publish_key(bearer ? &*bearer : nullptr)) {
    out.publish_key = true;
    return std::nullopt;
  }
  if (!bearer) bearer = req.param("token");
  return access.read_token(bearer ? &*bearer : nullptr, unix_ms() / 1000, out.claims);
}

bool valid_prefix(const std::string& prefix) {
  return prefix.empty() || (prefix.size() <= 128 && valid_channel(prefix));
}

void handle_presence(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](const ClientError& err) {
    ctx.metrics.client_errors++;
    conn.write(error_response(err, keep_alive));
  };
  if (req.method != "GET") return fail({405, "method_not_allowed", "use GET for /api/presence"});
  const auto channel = req.param("channel");
  if (!channel) return fail({400, "missing_channel", "give the channel: /api/presence?channel=NAME"});
  if (auto err = check_channel(*channel)) return fail(*err);
  Presence* presence = ctx.hub.presence();
  if (!presence || !presence->enabled(*channel))
    return fail({400, "presence_disabled", "namespace '" + std::string(channel_namespace(*channel)) +
                                               "' has no presence; set \"presence\": true in its policy (--config)"});
  Reader reader;
  if (auto err = read_reader(ctx.access, req, reader)) return fail(*err);
  if (!reader.publish_key)
    if (auto err = ctx.access.check_subscribe(*channel, reader.claims)) return fail(*err);

  const auto members = presence->members(*channel);
  std::string body = "{\"channel\":";
  append_json_string(body, *channel);
  body += ",\"count\":" + std::to_string(members.size()) + ",\"members\":[";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i) body += ',';
    body += "{\"user\":";
    append_json_string(body, members[i].user);
    body += ",\"info\":";
    body += members[i].info.empty() ? "null" : members[i].info;
    body += '}';
  }
  body += "]}";
  conn.write(http_response(200, "application/json", body, keep_alive, "Cache-Control: no-store\r\n"));
}

void handle_channels(EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](const ClientError& err) {
    ctx.metrics.client_errors++;
    conn.write(error_response(err, keep_alive));
  };
  if (req.method != "GET") return fail({405, "method_not_allowed", "use GET for /api/channels"});
  const std::string prefix = req.param("prefix").value_or("");
  if (!valid_prefix(prefix))
    return fail({400, "invalid_prefix", "prefix is the start of a channel name: up to 128 of A-Z a-z 0-9 _ . : -"});
  size_t limit = kDefaultChannelLimit;
  if (auto l = req.param("limit")) {
    char* end = nullptr;
    const long n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > static_cast<long>(kMaxChannelLimit))
      return fail({400, "invalid_limit", "limit is an integer from 1 to " + std::to_string(kMaxChannelLimit)});
    limit = static_cast<size_t>(n);
  }
  Reader reader;
  if (auto err = read_reader(ctx.access, req, reader)) return fail(*err);

  const ChannelCounts counts = ctx.hub.presence() ? ctx.hub.presence()->counts(prefix) : ctx.hub.local_counts(prefix);
  std::string body = "{\"channels\":[";
  size_t listed = 0;
  bool truncated = false;
  for (const auto& [channel, n] : counts) {
    if (n == 0) continue;
    // Channels of private namespaces only for whoever may subscribe to them.
    if (!reader.publish_key && ctx.access.namespaces().for_channel(channel).is_private &&
        !(reader.claims && reader.claims->may_subscribe(channel)))
      continue;
    if (listed == limit) {
      truncated = true;
      break;
    }
    if (listed++) body += ',';
    body += "{\"channel\":";
    append_json_string(body, channel);
    body += ",\"subscribers\":" + std::to_string(n) + '}';
  }
  body += "],\"truncated\":";
  body += truncated ? "true" : "false";
  body += '}';
  conn.write(http_response(200, "application/json", body, keep_alive, "Cache-Control: no-store\r\n"));
}

}  // namespace

void install_presence_routes(ServerContext& ctx) {
  ctx.routes["/api/presence"] = handle_presence;
  ctx.routes["/api/channels"] = handle_channels;
}

}  // namespace herald
