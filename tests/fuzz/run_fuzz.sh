#!/usr/bin/env bash
# Builds and runs every fuzzer of client input for SECONDS each:
#   ws_frames, ws_handshake   WebSocket frames and the opening handshake (the codec)
#   http_request              the HTTP request parser, cursors, channel names
#   query                     /sse, /poll and /ws query strings through the real routes
#   publish_body              POST /api/publish bodies through the real route
#   ws_commands               WebSocket commands through the real WsSession
#   token                     client tokens (HS256 JWT), raw and as signed claims
#   namespaces                the namespace policy file (--config)
#
#   tests/fuzz/run_fuzz.sh SECONDS [TARGET...]      (default: all of them)
#
# The ctest entry fuzz_smoke runs 5 s each; for a real search run e.g. 600 s each.
# Build: clang (libFuzzer + ASan + UBSan) in build-fuzz/ at the repository root,
# configured from tests/fuzz/standalone/, a tiny project that compiles only what the
# fuzzers run (no Pistache, RabbitMQ or spdlog), so it works whatever state the rest
# of the tree is in. The same targets come from the whole project configured with
# CXX=clang++ -DHERALD_FUZZ=ON.
#
# Corpus: the committed seeds in tests/fuzz/corpus/<target>/ (written by
# make_ws_corpus.py and make_server_corpus.py) are read, never written; new inputs go
# to build-fuzz/corpus/<target>/. Dictionaries: tests/fuzz/<target>.dict. Crash
# reproducers are written to build-fuzz/artifacts/; replay one with
# build-fuzz/fuzz_<target> FILE (HERALD_FUZZ_SHOW=1 prints what the in-process node
# answered). Exit status: 0 when every target ran clean, non-zero when the build failed
# or any target crashed, leaked or timed out.
set -euo pipefail

seconds=${1:?usage: $0 SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(ws_frames ws_handshake http_request query publish_body ws_commands token namespaces)
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"

CXX=clang++ cmake -S "$root/tests/fuzz/standalone" -B "$build" -G Ninja -DHERALD_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

status=0
for target in "${targets[@]}"; do
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
