#!/usr/bin/env bash
# Builds the live555 test camera (tests/support/live555/kw_live555_server.cpp) against live555's library
# sources as the PyPI sdist `liblivemedia` 1.0.5 carries them (live555 2024.06.26; live555 is packaged in
# no Debian 12 component). Usage: build-live555.sh OUT_DIR. Idempotent: the sources and the objects are
# cached under OUT_DIR, so only the first run compiles (a few minutes on 2 cores); the server program is
# relinked when its source is newer than the binary. Prints the server's path.
set -euo pipefail
out=${1:?usage: build-live555.sh OUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
src_cpp=$here/tests/support/live555/kw_live555_server.cpp
mkdir -p "$out"
out=$(cd "$out" && pwd)
ver=1.0.5
tree=$out/liblivemedia-$ver
lib=$out/liblive555.a
bin=$out/kw_live555_server
cxxflags=(-O1 -w -fPIC -DSOCKLEN_T=socklen_t -DNO_OPENSSL=1 -DNO_STD_LIB=1)

if [ ! -f "$tree/liveMedia/include/liveMedia.hh" ]; then
  if [ ! -f "$out/liblivemedia-$ver.tar.gz" ]; then
    if [ -f "/tmp/l555/liblivemedia-$ver.tar.gz" ]; then
      cp "/tmp/l555/liblivemedia-$ver.tar.gz" "$out/"
    else
      python3 -m pip download --quiet --no-binary :all: --no-deps -d "$out" "liblivemedia==$ver" >&2
    fi
  fi
  tar -xzf "$out/liblivemedia-$ver.tar.gz" -C "$out"
fi
incs=()
for d in UsageEnvironment BasicUsageEnvironment groupsock liveMedia; do incs+=(-I"$tree/$d/include"); done

if [ ! -f "$lib" ]; then
  objdir=$out/obj
  mkdir -p "$objdir"
  export objdir tree
  compile_one() {
    local f=$1 o
    o=$objdir/$(echo "${f#"$tree"/}" | tr / _).o
    [ -f "$o" ] && return 0
    case $f in
      *.c) cc -O1 -w -fPIC -DSOCKLEN_T=socklen_t -DNO_OPENSSL=1 "${@:2}" -c "$f" -o "$o.tmp" ;;
      *) c++ -std=c++17 "${@:2}" -c "$f" -o "$o.tmp" ;;
    esac
    mv "$o.tmp" "$o"
  }
  export -f compile_one
  find "$tree/UsageEnvironment" "$tree/BasicUsageEnvironment" "$tree/groupsock" "$tree/liveMedia" \
    -maxdepth 1 \( -name '*.cpp' -o -name '*.c' \) -print0 |
    xargs -0 -n1 -P2 bash -c 'compile_one "$0" '"${cxxflags[*]} ${incs[*]}"
  ar rcs "$lib.tmp" "$objdir"/*.o
  mv "$lib.tmp" "$lib"
fi
if [ ! -x "$bin" ] || [ "$src_cpp" -nt "$bin" ]; then
  c++ -std=c++17 -O1 "${cxxflags[@]}" "${incs[@]}" "$src_cpp" "$lib" -o "$bin.tmp"
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
