#!/usr/bin/env bash
# Builds and runs the client-input fuzzers (WebSocket frames and handshake, HTTP
# requests with cursors and channel names) for SECONDS each.
#
#   tests/fuzz/run_ws_fuzz.sh SECONDS
#
# Build: clang (libFuzzer + ASan + UBSan) in build-fuzz/ at the repository root,
# configured from tests/fuzz/standalone/, a tiny project that compiles only the codec,
# src/message.cpp and src/cursor.cpp. That keeps the fuzzers independent of the
# server's heavier dependencies and of the state of the rest of the tree; the same
# targets come from tests/fuzz/ws_fuzz.cmake when the whole project is configured with
# CXX=clang++ -DHERALD_FUZZ=ON.
#
# Corpus: the committed seeds in tests/fuzz/corpus/<target>/ are read, never written;
# new inputs go to build-fuzz/corpus/<target>/. Crash reproducers are written to
# build-fuzz/artifacts/. Exit status: 0 when both targets ran clean, non-zero when
# the build failed or any target crashed, leaked or timed out.
set -euo pipefail

seconds=${1:?usage: $0 SECONDS}
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"

CXX=clang++ cmake -S "$root/tests/fuzz/standalone" -B "$build" -G Ninja -DHERALD_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2

status=0
for target in ws_frames ws_handshake http_request; do
  mkdir -p "$build/corpus/$target" "$build/artifacts"
  extra=()
  if [[ -f "$root/tests/fuzz/$target.dict" ]]; then extra+=("-dict=$root/tests/fuzz/$target.dict"); fi
  echo "== fuzz_$target for ${seconds}s"
  if ! "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "${extra[@]}" \
      "$build/corpus/$target" "$root/tests/fuzz/corpus/$target"; then
    echo "fuzz_$target FAILED (reproducer in $build/artifacts/)" >&2
    status=1
  fi
done
exit $status
