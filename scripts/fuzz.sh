#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs, cargo-fuzz + libFuzzer) for SECONDS each (default 10),
# starting from its seed corpus in fuzz/corpus/<target>/ (new inputs found go to fuzz/target/corpus/, not
# into the repository), with a per-input time limit: a slow input is a failure too (a quadratic parser is
# a denial of service). Exits non-zero on the first crash, timeout or out-of-memory, leaving the input in
# fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh            # the CI smoke: every target briefly
#   scripts/fuzz.sh 3600       # an hour each
#   FUZZ_TARGETS="nal jpeg" scripts/fuzz.sh 600
#   FUZZ_RUNS=10000000 scripts/fuzz.sh   # a fixed number of executions per target instead of a time
#   FUZZ_TIMEOUT=10 nice -n 19 scripts/fuzz.sh 600   # long, in the background of other work
#
# Needs cargo-fuzz (installed here when missing) and a nightly compiler; with only a stable toolchain it
# sets RUSTC_BOOTSTRAP=1, which lets stable accept the sanitizer-coverage flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
runs="${FUZZ_RUNS:-}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz >&2
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

targets="${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^keepwatch-fuzz$')}"
# Per-input limits: seconds (wall clock: libFuzzer's alarm) and MB of memory one input may cost. A long run
# under `nice` on a busy machine can see a fast input stalled for seconds: give it more there
# (FUZZ_TIMEOUT=10) and re-run any timeout found alone before believing it.
timeout_s="${FUZZ_TIMEOUT:-2}"
rss_mb=1024

# One build for all targets; --sanitizer none: the targets are safe Rust (panics, timeouts and
# out-of-memory are what is hunted), and it builds and runs several times faster than ASan.
cargo "${toolchain[@]}" fuzz build --sanitizer none --debug-assertions >&2

mkdir -p fuzz/target/corpus
summary=()
for t in $targets; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  limit=(-max_total_time="$seconds")
  if [ -n "$runs" ]; then
    limit=(-runs="$runs")
  fi
  log="fuzz/target/$t.log"
  echo "fuzz.sh: $t (${runs:-$seconds s})" >&2
  if ! cargo "${toolchain[@]}" fuzz run --sanitizer none --debug-assertions "$t" "$work" "fuzz/corpus/$t" -- \
      "${limit[@]}" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $t FAILED (input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary+=("$t: ${execs:-?} executions, ${rate:-?}/s, 0 crashes, 0 timeouts")
done
printf '%s\n' "${summary[@]}"
