#!/usr/bin/env bash
# Herald and nginx+nchan side by side (bench/nchan/compare.py says what it measures):
#   bench/nchan/compare.sh [--quick] [--subscribers N] [--runs R] [--out DIR] ...
# Installs nginx and its nchan module from Debian when missing (no service is started),
# builds Herald with ./scripts/setup when it is not built yet, then runs the comparison.
# Exits 1 if nchan cannot be installed or any run lost or duplicated a message.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
module=/usr/lib/nginx/modules/ngx_nchan_module.so

if ! command -v nginx >/dev/null 2>&1 || [ ! -e "$module" ]; then
  echo "compare: installing nginx and libnginx-mod-nchan"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  # Package scripts must not start the system nginx: the comparison runs its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx libnginx-mod-nchan ||
    { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx libnginx-mod-nchan; }
fi
if [ ! -e "$module" ]; then
  echo "compare: $module is still missing after installing libnginx-mod-nchan" >&2
  exit 1
fi
if [ ! -x "$root/build/src/server/herald" ] || [ ! -x "$root/build/bench/herald-bench" ]; then
  "$root/scripts/setup"
fi
exec /usr/bin/python3 "$root/bench/nchan/compare.py" "$@"
