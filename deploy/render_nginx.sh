#!/usr/bin/env bash
# Renders deploy/nginx.conf.template for nginx run as a plain process, as
# scripts/cluster and tests/deploy/deploy_config.sh do (docker-compose.yml lets the
# nginx image render the same template instead).
#
# Usage: render_nginx.sh PREFIX LISTEN NODE1 NODE2 NODE3
#   PREFIX  an existing directory; gets herald.conf (the template filled in) and
#           nginx.conf (pid, logs and temp files under PREFIX, includes herald.conf)
#   LISTEN  port or address:port for nginx, e.g. 127.0.0.1:8080
#   NODEn   host:port of each Herald node
# Then: nginx -p PREFIX -c PREFIX/nginx.conf  (it stays in the foreground).
set -euo pipefail
[[ $# -eq 5 ]] || { echo "usage: $0 PREFIX LISTEN NODE1 NODE2 NODE3" >&2; exit 2; }
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# Only ${HERALD_...} names are replaced, as envsubst does in the nginx image; nginx's
# own $variables stay.
sed -e "s|\${HERALD_LB_LISTEN}|$2|g" \
    -e "s|\${HERALD_NODE_1}|$3|g" \
    -e "s|\${HERALD_NODE_2}|$4|g" \
    -e "s|\${HERALD_NODE_3}|$5|g" \
    "$here/nginx.conf.template" >"$prefix/herald.conf"
if grep -n '\${HERALD_' "$prefix/herald.conf" >&2; then
  echo "render_nginx: the template names a variable this script does not fill in" >&2
  exit 1
fi

mkdir -p "$prefix/tmp"
cat >"$prefix/nginx.conf" <<CONF
# Written by deploy/render_nginx.sh: nginx as a plain process, everything under
# $prefix. The load balancer itself is herald.conf.
daemon off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log $prefix/access.log;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    include $prefix/herald.conf;
}
CONF
