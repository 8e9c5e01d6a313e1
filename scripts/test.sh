#!/usr/bin/env bash
# Runs every test of keepwatch: installs what the tests need (ffmpeg, GStreamer's RTSP server, ...) and then
# the unit and integration tests of the whole workspace. Usage: ./scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
cargo test --workspace --all-targets "$@"
