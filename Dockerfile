# Herald on Debian 12: built from this repository with CMake and Ninja, run as an
# unprivileged user. Used by docker-compose.yml; on its own:
#   docker build -t herald . && docker run -p 8080:8080 herald
#   docker run -p 8080:8080 -e HERALD_BROKER=amqp://user:pass@rabbit:5672/ herald
# Every flag has an environment variable (--node-id is HERALD_NODE_ID, see --help).

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpistache-dev libcpp-httplib-dev librabbitmq-dev libspdlog-dev nlohmann-json3-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the server: the test suite needs Catch2, browsers and a broker of its own.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_TESTS=OFF \
 && ninja -C build herald \
 && strip build/src/server/herald

FROM debian:12-slim
# The shared libraries herald links (OpenSSL, Pistache, spdlog, fmt, rabbitmq-c), and
# curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libpistache0 libspdlog1.10 libfmt9 librabbitmq4 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin herald
COPY --from=build /src/build/src/server/herald /usr/local/bin/herald
COPY --from=build /src/clients /usr/share/herald/clients
ENV HERALD_LISTEN=0.0.0.0:8080 \
    HERALD_STATIC_DIR=/usr/share/herald/clients
USER herald
EXPOSE 8080
# 503 while the broker is down or the node drains.
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
# SIGTERM drains: WebSocket close 1001, SSE ends with a retry hint, held polls answered.
STOPSIGNAL SIGTERM
ENTRYPOINT ["herald"]
