#!/usr/bin/env bash
# Runs the server tests (job registry, engine thread, HTTP I/O thread and handler pool,
# event streams, heartbeats) under ThreadSanitizer, in build-tsan/ next to build/.
# Not part of CI: it compiles the server a second time (about 5 minutes on 2 cores).
# Usage: bash scripts/tsan.sh [gtest filter]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DSD_TSAN=ON -DSD_BUILD_BENCH=OFF
cmake --build build-tsan -j"$(nproc)" --target test_tsan
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/bin/test_tsan --gtest_filter="${1:-*}"
