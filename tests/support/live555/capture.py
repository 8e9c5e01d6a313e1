#!/usr/bin/env python3
"""Captures a camera's answers as test data: the DESCRIBE answer's SDP and the first RTP packets of its
first stream (RTP over TCP, interleaved), for replaying a server's quirks in unit tests without the server.

Usage: capture.py rtsp://HOST:PORT/PATH OUT_PREFIX [PACKETS]
Writes OUT_PREFIX.sdp and OUT_PREFIX.rtp (each packet: 2-byte big-endian length, then the RTP packet).
Standard library only; no authentication (point it at a test server).
"""
import socket
import struct
import sys
from urllib.parse import urlparse


EARLY = []  # interleaved packets that came before an answer (live555 starts sending before PLAY's answer)


def request(sock, buf, method, url, cseq, extra=""):
    sock.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: keepwatch-capture\r\n{extra}\r\n".encode())
    while True:
        if buf[:1] == b"$":
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">H", buf[2:4])[0]:
                n = struct.unpack(">H", buf[2:4])[0]
                EARLY.append((buf[1], buf[4:4 + n]))
                buf = buf[4 + n:]
                continue
        elif b"\r\n\r\n" in buf:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit(f"{method}: connection closed")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    headers = {}
    for line in head.decode().split("\r\n")[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(buf) < n:
        buf += sock.recv(65536)
    body, buf = buf[:n], buf[n:]
    status = head.split(b"\r\n", 1)[0].decode()
    if " 200 " not in status:
        raise SystemExit(f"{method}: {status}")
    return headers, body, buf


def main():
    url, prefix = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port or 554), timeout=10)
    buf = b""
    _, sdp, buf = request(sock, buf, "DESCRIBE", url, 1, "Accept: application/sdp\r\n")
    open(prefix + ".sdp", "wb").write(sdp)
    control = next(l.split(":", 1)[1] for l in sdp.decode().splitlines() if l.startswith("a=control:") and "track" in l)
    track = control if control.startswith("rtsp:") else url.rstrip("/") + "/" + control
    h, _, buf = request(sock, buf, "SETUP", track, 2, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    session = h["session"].split(";")[0]
    _, _, buf = request(sock, buf, "PLAY", url, 3, f"Session: {session}\r\nRange: npt=0.000-\r\n")
    packets = [p for ch, p in EARLY if ch == 0]
    while len(packets) < count:
        while len(buf) < 4:
            buf += sock.recv(65536)
        if buf[0] != 0x24:
            raise SystemExit("expected interleaved data")
        channel, n = buf[1], struct.unpack(">H", buf[2:4])[0]
        while len(buf) < 4 + n:
            buf += sock.recv(65536)
        if channel == 0:
            packets.append(buf[4:4 + n])
        buf = buf[4 + n:]
    with open(prefix + ".rtp", "wb") as f:
        for p in packets:
            f.write(struct.pack(">H", len(p)) + p)
    sock.close()


if __name__ == "__main__":
    main()
