#!/usr/bin/env bash
# Checks the deployment files without Docker (none runs here):
#  * docker-compose.yml is valid (`docker-compose config -q`) and has the services
#    the README describes;
#  * deploy/nginx.conf.template renders and passes `nginx -t`, once with loopback
#    upstreams (as scripts/cluster uses it) and, when a private mount namespace is
#    possible, once with exactly the values docker-compose.yml gives the nginx image,
#    the compose host names resolving through a private /etc/hosts;
#  * the template uses no $NAME that the nginx image's envsubst would replace, apart
#    from its HERALD_* placeholders;
#  * the Dockerfile's runtime stage installs the package of every shared library
#    herald links.
# Usage: deploy_config.sh [HERALD_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
herald=${1:-$root/build/src/server/herald}
work=$(mktemp -d /tmp/herald-deploy-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# --- docker-compose.yml
compose=(docker-compose -f "$root/docker-compose.yml" --project-directory "$root")
if out=$("${compose[@]}" config -q 2>&1); then
  pass "docker-compose config -q"
else
  fail "docker-compose config -q: $out"
fi
services=$("${compose[@]}" config --services 2>/dev/null | sort | tr '\n' ' ')
[[ $services == "herald-a herald-b herald-c nginx rabbitmq " ]] && pass "services: $services" ||
  fail "services are '$services', expected herald-a herald-b herald-c nginx rabbitmq"
resolved=$("${compose[@]}" config 2>/dev/null)
nginx_env() {  # the value of an environment variable of the nginx service
  awk -v key="$1:" '
    /^  [a-z]/ { in_nginx = ($1 == "nginx:") }
    in_nginx && $1 == key { v = $2; gsub(/^'\''|'\''$/, "", v); print v; exit }' <<<"$resolved"
}
n1=$(nginx_env HERALD_NODE_1); n2=$(nginx_env HERALD_NODE_2); n3=$(nginx_env HERALD_NODE_3)
listen=$(nginx_env HERALD_LB_LISTEN)
[[ -n $n1 && -n $n2 && -n $n3 && -n $listen ]] && pass "nginx service: $n1 $n2 $n3, listen $listen" ||
  fail "the nginx service does not set HERALD_NODE_1..3 and HERALD_LB_LISTEN"
for n in "$n1" "$n2" "$n3"; do
  [[ $services == *"${n%%:*} "* ]] || fail "upstream $n is not a compose service"
  [[ ${n##*:} == 8080 ]] || fail "upstream $n: Herald listens on 8080 in its image (Dockerfile HERALD_LISTEN)"
done
grep -q 'HERALD_LISTEN=0.0.0.0:8080' "$root/Dockerfile" || fail "Dockerfile no longer sets HERALD_LISTEN=0.0.0.0:8080"

# --- the nginx template
template=$root/deploy/nginx.conf.template
others=$(grep -v '^[[:space:]]*#' "$template" | grep -o '\$[{]\?[A-Za-z_][A-Za-z0-9_]*' | grep -v '^\${HERALD_' |
  grep -v '^\$[a-z_0-9]*$' | sort -u | tr '\n' ' ' || true)
[[ -z $others ]] && pass "template: only HERALD_* placeholders and nginx variables" ||
  fail "template: the nginx image's envsubst would replace $others"
if command -v envsubst >/dev/null; then
  # The nginx image renders with envsubst; render_nginx.sh with sed: same output.
  mkdir -p "$work/same"
  "$root/deploy/render_nginx.sh" "$work/same" 80 a:1 b:2 c:3
  HERALD_LB_LISTEN=80 HERALD_NODE_1=a:1 HERALD_NODE_2=b:2 HERALD_NODE_3=c:3 \
    envsubst '${HERALD_LB_LISTEN} ${HERALD_NODE_1} ${HERALD_NODE_2} ${HERALD_NODE_3}' <"$template" >"$work/same/envsubst.conf"
  cmp -s "$work/same/herald.conf" "$work/same/envsubst.conf" && pass "render_nginx.sh renders as envsubst does" ||
    fail "render_nginx.sh and envsubst render the template differently"
fi

nginx_t() {  # PREFIX: nginx -t on a rendered prefix
  local out
  if out=$(nginx -t -p "$1" -c "$1/nginx.conf" 2>&1); then return 0; fi
  echo "$out" >&2
  return 1
}
mkdir -p "$work/loopback"
"$root/deploy/render_nginx.sh" "$work/loopback" 127.0.0.1:18080 127.0.0.1:18081 127.0.0.1:18082 127.0.0.1:18083
nginx_t "$work/loopback" && pass "nginx -t with loopback upstreams" || fail "nginx -t with loopback upstreams"
for needle in 'proxy_buffering off' 'proxy_set_header Upgrade $http_upgrade' 'proxy_read_timeout 1h' \
  'proxy_http_version 1.1' 'keepalive 32'; do
  grep -qF "$needle" "$work/loopback/herald.conf" || fail "rendered config lacks '$needle'"
done

mkdir -p "$work/compose"
"$root/deploy/render_nginx.sh" "$work/compose" "$listen" "$n1" "$n2" "$n3"
printf '127.0.0.1 localhost\n127.0.0.1 %s %s %s\n' "${n1%%:*}" "${n2%%:*}" "${n3%%:*}" >"$work/hosts"
if [[ $(id -u) == 0 ]] && unshare -m true 2>/dev/null; then
  if unshare -m bash -c "mount --bind '$work/hosts' /etc/hosts && $(declare -f nginx_t); nginx_t '$work/compose'"; then
    pass "nginx -t with the compose values ($n1 $n2 $n3, listen $listen)"
  else
    fail "nginx -t with the compose values"
  fi
else
  echo "skip: nginx -t with the compose host names needs root and unshare (for a private /etc/hosts)"
fi

# --- Dockerfile runtime packages
if [[ -x $herald ]]; then
  runtime=$(awk '/^FROM /{stage++} stage==2' "$root/Dockerfile")
  owner() {  # the package of a library file; dpkg knows it under /lib or /usr/lib (merged /usr)
    local real p
    real=$(readlink -f "$1")
    for p in "$1" "$real" "${real/#\/usr\/lib\//\/lib\/}" "${1/#\/lib\//\/usr\/lib\/}"; do
      dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
    done
    return 0
  }
  while read -r lib; do
    pkg=$(owner "$lib")
    case $pkg in
      libc6|libgcc-s1|libstdc++6) continue ;;  # in every Debian image
      # A sanitizer build of this tree links its runtime; the image builds without one.
      libasan*|libubsan*|libtsan*) continue ;;
      "") fail "no Debian package owns $lib, which herald links"; continue ;;
    esac
    grep -qw -- "$pkg" <<<"$runtime" && pass "runtime image installs $pkg" ||
      fail "herald links $lib from $pkg, which the Dockerfile's runtime stage does not install"
  done < <(ldd "$herald" | awk '$3 ~ /^\// {print $3}')
else
  echo "skip: no herald binary at $herald for the runtime library check"
fi

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "deploy files OK"
