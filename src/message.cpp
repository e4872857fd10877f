#include "src/message.h"

#include <cstdio>

namespace herald {

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void append_http_chunk(std::string& out, std::string_view payload) {
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  out.append(size, static_cast<size_t>(n));
  out.append(payload);
  out += "\r\n";
}

void append_ws_frame_header(std::string& out, uint8_t opcode, size_t len) {
  out.push_back(static_cast<char>(0x80 | opcode));
  if (len < 126) {
    out.push_back(static_cast<char>(len));
  } else if (len <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((len >> shift) & 0xFF));
  }
}

MessagePtr build_message(std::string channel, Cursor cursor, int64_t ts_ms, std::string data) {
  auto m = std::make_shared<Message>();
  m->channel = std::move(channel);
  m->cursor = std::move(cursor);
  m->ts_ms = ts_ms;
  m->data = std::move(data);

  const std::string id = m->cursor.str();
  std::string& env = m->envelope;
  env.reserve(m->data.size() + m->channel.size() + id.size() + 48);
  env += "{\"channel\":";
  append_json_string(env, m->channel);
  env += ",\"id\":";
  append_json_string(env, id);
  env += ",\"ts\":";
  env += std::to_string(ts_ms);
  env += ",\"data\":";
  env += m->data;
  env += '}';

  // The envelope is compact JSON, so it holds no raw newline and fits one data: line.
  std::string event;
  event.reserve(env.size() + id.size() + 32);
  event += "id: ";
  event += id;
  event += "\nevent: message\ndata: ";
  event += env;
  event += "\n\n";
  append_http_chunk(m->sse_chunk, event);

  const size_t ws_len = env.size() + 15;  // {"op":"message", + env without its '{'
  append_ws_frame_header(m->ws_frame, 0x1, ws_len);
  m->ws_frame += "{\"op\":\"message\",";
  m->ws_frame.append(env, 1, std::string::npos);
  return m;
}

MessagePtr build_presence_event(bool join, std::string channel, const std::string& user, const std::string& info) {
  auto m = std::make_shared<Message>();
  m->kind = join ? MessageKind::Join : MessageKind::Leave;
  m->channel = std::move(channel);
  const char* name = join ? "join" : "leave";
  std::string& env = m->envelope;
  env += "{\"channel\":";
  append_json_string(env, m->channel);
  env += ",\"user\":";
  append_json_string(env, user);
  env += ",\"info\":";
  env += info.empty() ? "null" : info;
  env += '}';

  std::string event = std::string("event: ") + name + "\ndata: " + env + "\n\n";
  append_http_chunk(m->sse_chunk, event);

  std::string frame = std::string("{\"op\":\"") + name + "\"," + env.substr(1);
  append_ws_frame_header(m->ws_frame, 0x1, frame.size());
  m->ws_frame += frame;
  return m;
}

}  // namespace herald
