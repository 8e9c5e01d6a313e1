#!/usr/bin/env bash
# Long durability stress run, outside CI: kill -9 the recorder N times (default 50) at arbitrary moments,
# then check the store and export every cycle (the same assertions as the CI test, more cycles).
# Usage: ./scripts/stress-kill.sh [CYCLES]
# The 4-camera version with loss figures is part of the reliability suite: bench/reliability/run kill.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
KW_KILL_CYCLES="${1:-50}" cargo test --test it durability::kill_dash_nine -- --nocapture
