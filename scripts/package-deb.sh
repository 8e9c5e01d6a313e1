#!/usr/bin/env bash
# Builds keepwatch's Debian package with cargo-deb (metadata: [package.metadata.deb] in Cargo.toml; unit,
# maintainer scripts and default config: packaging/). The man page and the shell completions are made by
# the binary being packaged (`keepwatch manpage`, `keepwatch completions SHELL`), so they match it.
#
# Usage: scripts/package-deb.sh [--profile release|dev] [--no-build] [--fast] [-o DIR]
#   --profile dev --no-build   package the binary `cargo build`/`cargo test` already made (the package test
#                              does this: a release build would double CI's compile time)
#   --fast                     faster, larger compression
# Prints the path of the .deb on its last line. Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
build=yes
extra=()
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --no-build) build=no; shift ;;
    --fast) extra+=(--fast); shift ;;
    -o) out="$2"; shift 2 ;;
    *) echo "package-deb: unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v cargo-deb >/dev/null 2>&1 || { echo "package-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }

case "$profile" in
dev) profile_dir=debug ;;
*) profile_dir="$profile" ;;
esac
target_dir="${CARGO_TARGET_DIR:-target}"
if [ "$build" = yes ]; then
    cargo build --locked --profile "$profile" --bin keepwatch
fi
bin="$target_dir/$profile_dir/keepwatch"
[ -x "$bin" ] || { echo "package-deb: $bin is missing: build it first" >&2; exit 1; }

# Generated assets, beside the binary (Cargo.toml's assets name them under target/release/, which cargo-deb
# maps to the profile's directory).
gen="$target_dir/$profile_dir/packaging"
mkdir -p "$gen"
"$bin" manpage | gzip -9n > "$gen/keepwatch.1.gz"
"$bin" completions bash > "$gen/keepwatch.bash"
"$bin" completions zsh > "$gen/_keepwatch"
"$bin" completions fish > "$gen/keepwatch.fish"

args=(--no-build --profile "$profile" "${extra[@]}")
[ -n "$out" ] && args+=(-o "$out")
cargo deb -p keepwatch "${args[@]}" | tail -n 1
