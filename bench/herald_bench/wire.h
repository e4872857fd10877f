#pragma once
// The bits of HTTP/1.1, chunked bodies and RFC 6455 framing a benchmark
// subscriber needs to read Herald's three transports (and nginx+nchan's, for the
// side-by-side comparison), and the bench message format.
// Parsers take what has arrived so far and say how much they used; none allocates
// on the hot path except dechunk(), which appends to the caller's buffer.
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::bench {

// A bench message's data is {"k":<index>,"p":"<padding>","t":<send time, us since the epoch>}:
// Herald carries it as an envelope's "data", nchan as the whole message body.
// Reads k and t from the first such object at or after `from` in `text`; returns
// the offset just past it, or npos when there is none.
size_t read_bench_data(std::string_view text, size_t from, uint64_t& k, int64_t& t);

// The data object of message `k` sent at `t`, padded with 'x' to about `size` bytes.
std::string bench_data(uint64_t k, int64_t t, size_t size);

struct ResponseHead {
  int status = 0;
  long content_length = -1;  // -1: none given
  bool chunked = false;
  std::string last_modified;  // nchan long-poll: where the next poll continues
  std::string etag;
  size_t size = 0;  // bytes of the head, blank line included
};
// Parses an HTTP/1.1 response head. Returns false while it is incomplete; a head
// that is not HTTP yields status 0.
bool parse_response_head(std::string_view in, ResponseHead& head);

enum class FrameStatus { NeedMore, Ok, Error };
struct Frame {
  int opcode = 0;
  bool fin = true;
  std::string_view payload;
  size_t size = 0;  // header and payload
};
// One server-to-client WebSocket frame (unmasked).
FrameStatus parse_ws_frame(std::string_view in, Frame& frame);
// A masked client-to-server frame.
std::string ws_client_frame(int opcode, std::string_view payload);

// Decodes the complete chunks at the start of `in` (a chunked HTTP body), appending
// their data to `out`. Returns the bytes used, or -1 on malformed framing; `ended`
// is set by the last (zero-length) chunk.
long dechunk(std::string_view in, std::string& out, bool& ended);

}  // namespace herald::bench
