#include <catch2/catch.hpp>

#include "transports/http/http_request.h"

using namespace herald;

namespace {
ParseStatus parse(const std::string& in, HttpRequest& req, size_t& used, HttpParseError& err, HttpLimits lim = {}) {
  return parse_http_request(in, lim, req, used, err);
}
}  // namespace

TEST_CASE("a request with repeated query keys and a body") {
  std::string in =
      "POST /api/publish?channel=a&channel=b%3Ac&x=1+2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
      "X-Thing:  v  \r\n\r\nbodyGET / HTTP/1.1\r\n";
  HttpRequest req;
  size_t used = 0;
  HttpParseError err;
  REQUIRE(parse(in, req, used, err) == ParseStatus::Done);
  REQUIRE(req.method == "POST");
  REQUIRE(req.path == "/api/publish");
  REQUIRE(req.params("channel") == std::vector<std::string>{"a", "b:c"});
  REQUIRE(req.param("x") == "1 2");
  REQUIRE(*req.header("x-thing") == "v");
  REQUIRE(req.body == "body");
  REQUIRE(in.substr(used) == "GET / HTTP/1.1\r\n");
  REQUIRE(req.keep_alive());
}

TEST_CASE("incomplete requests ask for more, at every split") {
  const std::string full = "GET /sse?channel=a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  for (size_t cut = 0; cut < full.size(); ++cut) {
    HttpRequest req;
    size_t used = 0;
    HttpParseError err;
    INFO(cut);
    REQUIRE(parse(full.substr(0, cut), req, used, err) == ParseStatus::NeedMore);
  }
}

TEST_CASE("bad requests get the right status") {
  struct Case {
    std::string in;
    int status;
  };
  HttpLimits small;
  small.max_header_bytes = 64;
  small.max_body_bytes = 10;
  for (const auto& c : std::vector<Case>{
           {"GET / HTTP/1.1\r\n\r\n", 400},                                       // no Host
           {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
           {"GET nope HTTP/1.1\r\nHost: x\r\n\r\n", 400},
           {"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
           {"GET /?a=%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413},
           {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
           {"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 431},
           {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(100, 'a'), 431},
       }) {
    HttpRequest req;
    size_t used = 0;
    HttpParseError err;
    INFO(c.in);
    REQUIRE(parse(c.in, req, used, err, small) == ParseStatus::Error);
    REQUIRE(err.status == c.status);
    REQUIRE_FALSE(err.reason.empty());
  }
}

TEST_CASE("keep-alive follows the version and the Connection header") {
  auto ka = [](const std::string& in) {
    HttpRequest req;
    size_t used = 0;
    HttpParseError err;
    REQUIRE(parse_http_request(in, {}, req, used, err) == ParseStatus::Done);
    return req.keep_alive();
  };
  REQUIRE(ka("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE_FALSE(ka("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  REQUIRE_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
  REQUIRE(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}
