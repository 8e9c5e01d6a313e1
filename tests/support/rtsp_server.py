#!/usr/bin/python3
"""RTSP camera stand-in for keepwatch's integration tests.

Serves one or more mounts on 127.0.0.1:PORT with GStreamer's RTSP server. Each mount
is fed by its own ffmpeg process that plays a clip in real time, looping forever,
without re-encoding (`ffmpeg -re -stream_loop -1 -i CLIP -c copy -f mpegts udp://...`);
a shared media factory per mount depayloads that MPEG-TS and pays the video (H.264 or
H.265) and, when the clip has AAC audio, the audio too.

Run with Debian's interpreter (/usr/bin/python3), which has the GStreamer bindings:

    /usr/bin/python3 tests/support/rtsp_server.py 8554 \
        --mount /cam1=clip264.mp4 --mount /cam2=clip265.mp4:h265 \
        [--audio aac|pcmu|none] [--auth basic|digest --user U --password P]

Prints `FEEDER <pid>` for every ffmpeg feeder it starts, then `READY <port>` on stdout
once the server listens. Log lines go to stderr. SIGTERM or SIGINT (and, with
--exit-on-stdin-eof, end of input on stdin) stops the server and its feeders.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

HOST = "127.0.0.1"  # never serve or send anywhere but loopback
VIDEO_CODECS = ("h264", "h265")


def log(msg):
    sys.stderr.write("rtsp_server: %s\n" % msg)
    sys.stderr.flush()


def probe(path):
    """Returns (video codec, has AAC audio) of a clip, using ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", path],
        check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
    ).stdout
    streams = json.loads(out).get("streams", [])
    video = next((s["codec_name"] for s in streams if s.get("codec_type") == "video"), None)
    video = {"h264": "h264", "hevc": "h265"}.get(video, video)
    has_aac = any(s.get("codec_type") == "audio" and s.get("codec_name") == "aac" for s in streams)
    return video, has_aac


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Mount:
    def __init__(self, spec, audio_mode):
        if "=" not in spec or not spec.startswith("/"):
            raise SystemExit("bad --mount %r: expected /name=FILE[:codec]" % spec)
        self.path, rest = spec.split("=", 1)
        codec = None
        head, sep, tail = rest.rpartition(":")
        if sep and tail in VIDEO_CODECS:
            rest, codec = head, tail
        self.file = os.path.abspath(rest)
        if not os.path.isfile(self.file):
            raise SystemExit("clip not found for mount %s: %s" % (self.path, self.file))
        probed_codec, has_aac = probe(self.file)
        self.codec = codec or probed_codec
        if self.codec not in VIDEO_CODECS:
            raise SystemExit("mount %s: unsupported video codec %r" % (self.path, self.codec))
        self.audio = None if audio_mode == "none" or not has_aac else audio_mode
        self.udp_port = free_udp_port()
        self.feeder = None

    def launch_line(self):
        # tsdemux's pads appear once the stream is parsed; the parsers' sink caps make
        # the delayed links pick the right pad. ignore-pcr avoids skewed timestamps for
        # the first seconds after a (re)start.
        parts = [
            "( udpsrc port=%d address=%s buffer-size=4194304 "
            'caps="video/mpegts,systemstream=(boolean)true,packetsize=(int)188" '
            "! tsdemux name=demux ignore-pcr=true" % (self.udp_port, HOST)
        ]
        if self.codec == "h264":
            parts.append("demux. ! h264parse config-interval=-1 ! queue max-size-time=3000000000 "
                         "! rtph264pay name=pay0 pt=96 config-interval=-1")
        else:
            parts.append("demux. ! h265parse config-interval=-1 ! queue max-size-time=3000000000 "
                         "! rtph265pay name=pay0 pt=96 config-interval=-1")
        if self.audio == "aac":
            parts.append("demux. ! aacparse ! queue max-size-time=3000000000 "
                         "! rtpmp4gpay name=pay1 pt=97")
        elif self.audio == "pcmu":
            parts.append("demux. ! aacparse ! avdec_aac ! audioconvert ! audioresample "
                         "! audio/x-raw,rate=8000,channels=1 ! mulawenc "
                         "! queue max-size-time=3000000000 ! rtppcmupay name=pay1 pt=0")
        return " ".join(parts) + " )"

    def feeder_cmd(self):
        cmd = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-re", "-stream_loop", "-1", "-i", self.file,
            "-map", "0:v:0",
        ]
        if self.audio:
            cmd += ["-map", "0:a:0"]
        cmd += ["-c", "copy", "-f", "mpegts",
                "udp://%s:%d?pkt_size=1316" % (HOST, self.udp_port)]
        # If this script dies without cleaning up, the kernel kills the feeder.
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "KILL", "--"] + cmd
        return cmd

    def start_feeder(self):
        # setpriv execs ffmpeg, so the pid is ffmpeg's.
        self.feeder = subprocess.Popen(self.feeder_cmd(), stdin=subprocess.DEVNULL)
        print("FEEDER %d" % self.feeder.pid, flush=True)

    def stop_feeder(self):
        p = self.feeder
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def build_auth(args):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    # (writable_structure() hands Python a copy; set_string changes the token itself)
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if args.auth == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    return auth


def user_permissions():
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role_from_structure(Gst.Structure.new_from_string(
        "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
    return perms


def main():
    ap = argparse.ArgumentParser(description="RTSP camera stand-in for tests (loopback only)")
    ap.add_argument("port", type=int, help="TCP port to listen on (127.0.0.1)")
    ap.add_argument("--mount", action="append", default=[], metavar="/NAME=FILE[:codec]",
                    help="serve FILE (looped, real time) at rtsp://127.0.0.1:PORT/NAME")
    ap.add_argument("--audio", choices=("aac", "pcmu", "none"), default="aac",
                    help="audio track when the clip has AAC: pass it through (aac), "
                         "re-encode to G.711 mu-law (pcmu), or leave it out (none)")
    ap.add_argument("--auth", choices=("basic", "digest"))
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--threads", type=int, default=16, help="RTSP client thread pool size")
    ap.add_argument("--stagger", type=float, default=0.0, metavar="SECONDS",
                    help="pause between starting two mounts' feeders (benchmarks of independent cameras)")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="stop when stdin reaches end of file (the parent went away)")
    args = ap.parse_args()
    if not args.mount:
        ap.error("at least one --mount is required")
    if args.auth and (args.user is None or args.password is None):
        ap.error("--auth needs --user and --password")

    Gst.init(None)
    mounts = [Mount(spec, args.audio) for spec in args.mount]

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    pool = GstRtspServer.RTSPThreadPool()
    pool.set_max_threads(args.threads)
    server.set_thread_pool(pool)
    if args.auth:
        server.set_auth(build_auth(args))

    mount_points = server.get_mount_points()
    for m in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(m.launch_line())
        factory.set_shared(True)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
        if args.auth:
            factory.set_permissions(user_permissions())
        mount_points.add_factory(m.path, factory)
        log("mount %s: %s (%s, audio %s) via udp port %d"
            % (m.path, m.file, m.codec, m.audio or "none", m.udp_port))

    loop = GLib.MainLoop()
    stopping = []

    def shutdown(reason):
        if not stopping:
            stopping.append(reason)
            log("stopping (%s)" % reason)
            loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, shutdown, "SIGTERM")
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, shutdown, "SIGINT")
    if args.exit_on_stdin_eof:
        def on_stdin(fd, cond):
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data or cond & (GLib.IOCondition.HUP | GLib.IOCondition.ERR):
                return shutdown("stdin closed")
            return GLib.SOURCE_CONTINUE
        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(),
                              GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
                              on_stdin)

    try:
        server.attach(None)
    except GLib.Error as e:
        log("cannot listen on %s:%d: %s" % (HOST, args.port, e.message))
        return 2
    if server.get_bound_port() <= 0:
        log("cannot listen on %s:%d" % (HOST, args.port))
        return 2

    try:
        for i, m in enumerate(mounts):
            if i and args.stagger > 0:
                time.sleep(args.stagger)  # independent cameras do not start in the same instant
            m.start_feeder()

        def check_feeders():
            for m in mounts:
                rc = m.feeder.poll() if m.feeder else None
                if rc is not None and not stopping:
                    log("feeder for %s exited with %s; restarting it" % (m.path, rc))
                    m.start_feeder()
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add_seconds(1, check_feeders)
        print("READY %d" % server.get_bound_port(), flush=True)
        loop.run()
    finally:
        for m in mounts:
            m.stop_feeder()
    return 0


if __name__ == "__main__":
    # Make stdout/stderr survive a closed reader instead of raising on every print.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
