#!/usr/bin/env bash
# The camera compatibility matrix (tests/it/compat_matrix.rs) run once, its per-cell table written to
# bench/results/compat-<UTC time>.md with the machine's load. The matrix needs live555, which this builds
# from the PyPI sdist `liblivemedia` 1.0.5 on first use (scripts/build-live555.sh; cached under the cargo
# target directory). This script is for
# recording results: CI runs only the replayed live555 capture (the whole matrix is `#[ignore]`: it builds
# live555 and records 17 cameras).
# Usage: scripts/compat-matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=bench/results/compat-$stamp.md
table=$(mktemp)
trap 'rm -f "$table"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
KW_MATRIX_TABLE=$table cargo test --test it compat_matrix:: -- --include-ignored --nocapture "$@" || status=$?
{
  echo "# Camera compatibility matrix, $stamp"
  echo
  echo "Server: live555 2024.06.26 (PyPI liblivemedia 1.0.5) with tests/support/live555/kw_live555_server.cpp;"
  echo "clips 640x360 25 fps 6 s (x264/x265 via ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3))."
  echo "Each cell: the first recorded session exported with \`keepwatch export\`, its decoded frames' MD5s"
  echo "(\`ffmpeg -f framemd5\`) located as a contiguous run in the clip's (sessions that share a span are split"
  echo "where the clip's first frame comes again); the next session after BYE; audio: the share of the clip's"
  echo "audio found as one run in the first session (AAC byte for byte, G.711 within its quantisation); a"
  echo "snapshot in the middle of the session; motion state in /api/cameras and an event raised."
  echo "Machine: $(nproc) cores, shared with other builds; load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Test exit status: $status"
  echo
  cat "$table" 2>/dev/null || echo "(no table: the test did not get that far)"
} > "$out"
echo "wrote $out"
exit "$status"
