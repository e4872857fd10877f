// Long-poll: GET /poll?channel=..&since=..&timeout=S in a loop on one keep-alive
// connection. The first poll asks for timeout=0, so the server answers at once and
// the transport proves itself without waiting for a message.
#include <httplib.h>

#include "clients/cpp/client_transport.h"

namespace herald::client::detail {
namespace {

// Margin on top of the server's hold before a poll is taken for lost.
constexpr std::chrono::seconds kPollGrace{15};

class LongPollTransport final : public HttpWorker {
 public:
  explicit LongPollTransport(TransportContext ctx) : HttpWorker(std::move(ctx)) {
    http().set_read_timeout(ctx_.options->poll_timeout + kPollGrace);
    start();
  }
  ~LongPollTransport() override { close(); }

 private:
  Error work() override {
    std::optional<std::string> since = ctx_.cursor;
    bool first = true;
    httplib::Headers headers;
    for (auto& h : auth_headers()) headers.insert(std::move(h));
    while (!stopping()) {
      std::string path = stream_path("/poll", since);
      path += "&timeout=" + std::to_string(first ? 0 : ctx_.options->poll_timeout.count());
      auto res = http().Get(path, headers);
      if (stopping()) break;
      if (!res) {
        return {first ? "connect_failed" : "closed",
                "poll " + ctx_.url.origin() + path + " failed: " + describe(res.error()), Transport::LongPoll};
      }
      if (res->status != 200) return http_error(res->status, res->body, ctx_.url, Transport::LongPoll);
      auto j = nlohmann::json::parse(res->body, nullptr, false);
      auto messages = j.is_object() ? j.find("messages") : j.end();
      if (!j.is_object() || messages == j.end() || !messages->is_array())
        return {"protocol_error", "the poll answer has no \"messages\" list", Transport::LongPoll};
      BatchEvent batch;
      batch.channels = ctx_.channels;
      for (const auto& m : *messages) {
        if (auto env = envelope_from_json(m)) batch.messages.push_back(std::move(*env));
      }
      if (auto r = j.find("recovered"); r != j.end() && r->is_boolean()) batch.recovered = r->get<bool>();
      if (auto s = j.find("skipped"); s != j.end() && s->is_object()) {
        for (const auto& [channel, n] : s->items())
          if (n.is_number_unsigned()) batch.skipped.emplace_back(channel, n.get<uint64_t>());
      }
      if (auto c = j.find("cursor"); c != j.end() && c->is_string()) {
        batch.cursor = c->get<std::string>();
        since = batch.cursor;
      }
      post(std::move(batch));
      first = false;
    }
    return {"closed", "long-poll stopped", Transport::LongPoll};
  }
};

}  // namespace

std::unique_ptr<ClientTransport> open_longpoll(TransportContext ctx) {
  return std::make_unique<LongPollTransport>(std::move(ctx));
}

}  // namespace herald::client::detail
