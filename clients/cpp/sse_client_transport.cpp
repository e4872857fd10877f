// SSE: GET /sse?channel=..&since=.. read as a stream by cpp-httplib. The text/event-
// stream parser is here; the channels of one stream are fixed, so the client opens a
// new stream when its set changes.
#include <httplib.h>

#include "clients/cpp/client_transport.h"

namespace herald::client::detail {
namespace {

// Incremental text/event-stream parser: bytes split anywhere, lines ended by LF,
// CRLF or CR. Calls on_event(type, data, id) at each blank line that ends an event
// with data. Comment lines (':', the server's heartbeats) are skipped: reading them
// already reset the read timeout, which is all they are for.
class SseParser {
 public:
  template <typename OnEvent>
  [[nodiscard]] bool feed(std::string_view bytes, size_t max_event, OnEvent&& on_event) {
    for (char c : bytes) {
      if (after_cr_ && c == '\n') {  // the LF of a CRLF already ended its line
        after_cr_ = false;
        continue;
      }
      after_cr_ = c == '\r';
      if (c != '\r' && c != '\n') {
        line_.push_back(c);
        if (line_.size() + data_.size() > max_event) return false;
        continue;
      }
      take_line(on_event);
    }
    return true;
  }

 private:
  template <typename OnEvent>
  void take_line(OnEvent& on_event) {
    std::string_view line = line_;
    if (line.empty()) {
      if (has_data_) on_event(event_.empty() ? std::string_view("message") : std::string_view(event_), data_, id_);
      event_.clear();
      data_.clear();
      has_data_ = false;
    } else if (line.front() != ':') {
      const auto colon = line.find(':');
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (field == "event") {
        event_.assign(value);
      } else if (field == "data") {
        if (has_data_) data_.push_back('\n');
        data_.append(value);
        has_data_ = true;
      } else if (field == "id") {
        id_.assign(value);
      }
    }
    line_.clear();
  }

  std::string line_;
  std::string event_;
  std::string data_;
  std::string id_;  // kept across events, as EventSource does
  bool has_data_ = false;
  bool after_cr_ = false;
};

class SseTransport final : public HttpWorker {
 public:
  explicit SseTransport(TransportContext ctx) : HttpWorker(std::move(ctx)) {
    http().set_read_timeout(ctx_.options->idle_timeout);
    start();
  }
  ~SseTransport() override { close(); }

 private:
  Error work() override {
    const Options& o = *ctx_.options;
    const std::string path = stream_path("/sse", ctx_.cursor);
    httplib::Headers headers{{"Accept", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    for (auto& h : auth_headers()) headers.insert(std::move(h));
    int status = 0;
    std::string error_body;
    bool too_big = false;
    SseParser parser;
    auto on_event = [this](std::string_view type, const std::string& data, const std::string& id) {
      on_sse_event(type, data, id);
    };
    auto res = http().Get(
        path, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          return !stopping();
        },
        [&](const char* bytes, size_t len) {
          if (stopping()) return false;
          if (status != 200) {
            if (error_body.size() < 4096) error_body.append(bytes, std::min<size_t>(len, 4096));
            return true;
          }
          if (!parser.feed(std::string_view(bytes, len), o.max_message_size, on_event)) {
            too_big = true;
            return false;
          }
          return !stopping();
        });
    if (too_big)
      return {"protocol_error", "an SSE event exceeds max_message_size (" + std::to_string(o.max_message_size) + " bytes)",
              Transport::Sse};
    if (status != 0 && status != 200) return http_error(status, error_body, ctx_.url, Transport::Sse);
    if (!res && status == 0) {
      return {"connect_failed", "cannot open " + ctx_.url.origin() + path + ": " + describe(res.error()),
              Transport::Sse};
    }
    if (!res) {
      // A read error is a broken connection or idle_timeout of silence: either way the
      // stream is dead and the client reconnects.
      return {"closed", "the event stream broke (" + describe(res.error()) + ")", Transport::Sse};
    }
    return {"closed", "the server ended the event stream", Transport::Sse};
  }

  void on_sse_event(std::string_view type, const std::string& data, const std::string& id) {
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (type == "subscribed" && j.is_object()) {
      SubscribedEvent ev;
      ev.channels = ctx_.channels;
      if (auto chs = j.find("channels"); chs != j.end() && chs->is_array()) {
        ev.channels.clear();
        for (const auto& c : *chs)
          if (c.is_string()) ev.channels.push_back(c.get<std::string>());
      }
      if (auto r = j.find("recovered"); r != j.end() && r->is_boolean()) ev.recovered = r->get<bool>();
      if (auto c = j.find("cursor"); c != j.end() && c->is_string()) ev.cursor = c->get<std::string>();
      if (ev.cursor.empty()) ev.cursor = id;
      post(std::move(ev));
      return;
    }
    if (type == "message") {
      if (j.is_object() && !j.contains("id") && !id.empty()) j["id"] = id;
      if (auto env = envelope_from_json(j)) {
        post(MessageEvent{std::move(*env)});
        return;
      }
    }
    if (type == "gap" && j.is_object()) {
      SkippedEvent ev;
      if (auto c = j.find("channel"); c != j.end() && c->is_string()) ev.channel = c->get<std::string>();
      if (auto n = j.find("skipped"); n != j.end() && n->is_number_unsigned()) ev.skipped = n->get<uint64_t>();
      post(std::move(ev));
      return;
    }
    if (type == "error" && j.is_object()) {
      Error e{"server_error", data, Transport::Sse};
      if (auto c = j.find("code"); c != j.end() && c->is_string()) e.code = c->get<std::string>();
      if (auto m = j.find("message"); m != j.end() && m->is_string()) e.message = m->get<std::string>();
      post(ServerErrorEvent{std::move(e)});
      return;
    }
  }
};

}  // namespace

std::unique_ptr<ClientTransport> open_sse(TransportContext ctx) { return std::make_unique<SseTransport>(std::move(ctx)); }

}  // namespace herald::client::detail
