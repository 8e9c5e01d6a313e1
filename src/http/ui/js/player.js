// player.js — the live player used by the grid and the camera view. Why it is shaped this way:
// - The server pushes fragmented MP4 over a WebSocket (/api/cameras/{name}/live: a JSON text message with
//   the codec, then the init segment, then one moof+mdat per frame), the lowest-latency path a browser can
//   play through Media Source Extensions. ManagedMediaSource (iOS 17.1+) takes the same bytes.
// - Where no MSE exists (older iOS), the browser's native HLS plays live.m3u8; where the codec cannot be
//   played (HEVC in most browsers) the camera's H.264 sub-stream is used, and failing that a snapshot
//   refreshed every second, always with a badge that says so.
// - Live means live: when playback lags the buffered edge by more than 2 s (a background tab, a slow
//   phone) it jumps to the edge, old buffer is trimmed, and a closed connection reconnects with back-off.

import { h } from './dom.js';
import { startWebrtc, webrtcWanted } from './webrtc.js';

const MS = window.ManagedMediaSource || window.MediaSource;
const MAX_LAG = 2.0;
const KEEP_BEHIND = 15;

function wsUrl(name, stream) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = stream === 'sub' ? '?stream=sub' : '';
  return `${proto}//${location.host}/api/cameras/${encodeURIComponent(name)}/live${q}`;
}

export class LivePlayer {
  /**
   * `container`: an element to fill (a positioned box); `cam`: the /api/cameras entry; options: `sub` (prefer
   * the sub-stream when the camera has one), `t` (translate), `onBadge(list)` not needed: badges are drawn here.
   */
  constructor(container, cam, { sub = false, t = (k) => k } = {}) {
    this.container = container;
    this.cam = cam;
    this.t = t;
    this.stream = sub && cam.has_sub ? 'sub' : 'main';
    this.stopped = true;
    this.retry = 0;
    this.video = h('video', { muted: true, autoplay: true, playsInline: true, disableRemotePlayback: true,
      dataset: { testid: 'live-video', camera: cam.name } });
    // As attributes too, which iOS Safari goes by for inline autoplay.
    this.video.setAttribute('playsinline', '');
    this.video.setAttribute('muted', '');
    this.badges = h('div', { class: 'player-badges' });
    this.msg = h('div', { class: 'player-msg', hidden: true });
    this.spin = h('div', { class: 'spinner' });
    this.box = h('div', { class: 'player' }, this.video, this.spin, this.badges, this.msg);
    container.append(this.box);
    this.extraBadges = [];
    this.video.addEventListener('playing', () => { this.spin.hidden = true; this.retry = 0; this.setMsg(''); });
    this.video.addEventListener('waiting', () => { this.spin.hidden = false; });
    this.video.addEventListener('timeupdate', () => { if (this.video.readyState >= 3) this.spin.hidden = true; });
    this.onVisible = () => { if (!document.hidden && this.mode === 'mse') this.toEdge(true); };
  }

  /** Extra badges the page wants shown (e.g. REC); the player adds its own (sub-stream, snapshots). */
  setBadges(list) {
    this.extraBadges = list;
    this.paintBadges();
  }

  paintBadges() {
    const own = [];
    // The grid asks for sub-streams on purpose; a badge only says when the codec forced it.
    if (this.forcedSub && this.mode !== 'snap') own.push(['badge-info', this.t('player.sub'), 'sub']);
    if (this.mode === 'snap') own.push(['badge-warn', this.t('player.snapshots'), 'snapshots']);
    if (this.mode === 'hls') own.push(['badge-info', 'HLS', 'hls']);
    if (this.mode === 'webrtc') own.push(['badge-info', 'WebRTC', 'webrtc']);
    this.badges.replaceChildren(...[...this.extraBadges, ...own].map(([cls, text, id]) =>
      h('span', { class: `badge ${cls}`, dataset: id ? { testid: `badge-${id}` } : null }, text)));
  }

  setMsg(text) {
    this.msg.textContent = text;
    this.msg.hidden = !text;
  }

  start() {
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisible);
    if (webrtcWanted(this.cam, this.stream)) this.tryWebrtc();
    else if (MS) this.connect();
    else if (this.video.canPlayType('application/vnd.apple.mpegurl')) this.startHls();
    else this.startSnapshots();
    this.watchdog = setInterval(() => this.check(), 1000);
  }

  stop() {
    this.stopped = true;
    document.removeEventListener('visibilitychange', this.onVisible);
    clearInterval(this.watchdog);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.snapTimer);
    this.closeWs();
    this.closeRtc();
    this.resetMse();
    this.video.removeAttribute('src');
    try { this.video.load(); } catch (_) { /* detached */ }
    this.box.remove();
  }

  // --- WebRTC (first choice) ------------------------------------------------------------------------------

  /** WebRTC first; anything that keeps it from showing a picture within 6 s falls back to MSE/HLS. */
  async tryWebrtc() {
    this.mode = 'webrtc';
    this.paintBadges();
    this.spin.hidden = false;
    const fallback = () => {
      this.closeRtc();
      this.video.srcObject = null;
      if (this.stopped) return;
      this.rtcFailed = true;
      if (MS) this.connect();
      else if (this.video.canPlayType('application/vnd.apple.mpegurl')) this.startHls();
      else this.startSnapshots();
    };
    try {
      this.rtc = await startWebrtc(this.video, this.cam.name, this.stream, fallback);
    } catch (_) {
      fallback();
      return;
    }
    if (this.stopped) { this.closeRtc(); return; }
    this.video.play().catch(() => {});
    this.rtcTimer = setTimeout(() => { if (this.mode === 'webrtc' && this.video.readyState < 2) fallback(); }, 6000);
  }

  closeRtc() {
    clearTimeout(this.rtcTimer);
    if (this.rtc) { const r = this.rtc; this.rtc = null; r.close(); }
  }

  // --- WebSocket + MSE ------------------------------------------------------------------------------------

  connect() {
    this.mode = 'mse';
    this.paintBadges();
    this.spin.hidden = false;
    this.queue = [];
    this.mime = null;
    const ws = new WebSocket(wsUrl(this.cam.name, this.stream));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      if (typeof m.data === 'string') this.onInfo(JSON.parse(m.data));
      else { this.queue.push(m.data); this.pump(); }
    };
    ws.onclose = () => {
      if (ws !== this.ws || this.stopped) return;
      this.ws = null;
      this.reconnectLater();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  closeWs() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      try { ws.close(); } catch (_) { /* already closed */ }
    }
  }

  reconnectLater() {
    this.resetMse();
    this.spin.hidden = false;
    this.setMsg(this.t('player.reconnecting'));
    const delay = Math.min(10000, 1000 * 2 ** this.retry);
    this.retry = Math.min(this.retry + 1, 4);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }

  onInfo(info) {
    const mime = info.mime;
    if (!MS.isTypeSupported(mime)) {
      this.closeWs();
      this.resetMse();
      if (this.stream !== 'sub' && this.cam.has_sub) {
        this.stream = 'sub';
        this.forcedSub = true;
        this.connect();
      } else {
        this.startSnapshots();
      }
      return;
    }
    if (!this.ms) {
      this.mime = mime;
      this.openMse(mime);
    } else if (mime !== this.mime) {
      // New parameters (reconnect on the camera side): the next binary message is the new init segment.
      this.queue.push({ changeType: mime });
      this.mime = mime;
      this.pump();
    }
  }

  openMse(mime) {
    const ms = new MS();
    this.ms = ms;
    this.sb = null;
    ms.addEventListener('sourceopen', () => {
      if (ms !== this.ms) return;
      try {
        this.sb = ms.addSourceBuffer(mime);
        this.sb.mode = 'segments';
        this.sb.addEventListener('updateend', () => this.afterAppend());
        this.sb.addEventListener('error', () => this.restart());
      } catch (e) {
        this.setMsg(e.message);
        this.startSnapshots();
        return;
      }
      this.pump();
    }, { once: true });
    this.objectUrl = URL.createObjectURL(ms);
    if (window.ManagedMediaSource && MS === window.ManagedMediaSource) this.video.disableRemotePlayback = true;
    this.video.src = this.objectUrl;
  }

  resetMse() {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.ms = null;
    this.sb = null;
    this.queue = [];
  }

  restart() {
    if (this.stopped) return;
    this.closeWs();
    this.reconnectLater();
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.queue.length) return;
    const next = this.queue[0];
    if (next.changeType) {
      this.queue.shift();
      try {
        if (sb.changeType) sb.changeType(next.changeType);
      } catch (_) {
        this.restart();
        return;
      }
      this.pump();
      return;
    }
    try {
      sb.appendBuffer(next);
      this.queue.shift();
    } catch (e) {
      if (e.name === 'QuotaExceededError') this.trim(true);
      else this.restart();
    }
  }

  afterAppend() {
    if (!this.sb) return;
    if (this.video.paused && this.video.readyState >= 2 && !this.userPaused) this.video.play().catch(() => {});
    this.toEdge(false);
    this.trim(false);
    this.pump();
  }

  /** Jumps to the live edge when playback lags it by more than MAX_LAG (or always, when `force`). */
  toEdge(force) {
    const v = this.video;
    const b = v.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    const lag = end - v.currentTime;
    if (lag > MAX_LAG || (force && lag > 0.5) || v.currentTime < b.start(0)) {
      v.currentTime = Math.max(b.start(b.length - 1), end - 0.3);
    }
  }

  trim(now) {
    const sb = this.sb;
    const v = this.video;
    if (!sb || sb.updating || !v.buffered.length) return;
    const start = v.buffered.start(0);
    if (now || v.currentTime - start > KEEP_BEHIND * 2) {
      const to = v.currentTime - (now ? 2 : KEEP_BEHIND);
      if (to > start) {
        try { sb.remove(start, to); } catch (_) { /* retried on the next append */ }
      }
    }
  }

  /** Once a second: keep it playing and near the edge; a stream silent for 12 s is reconnected. */
  check() {
    if (this.stopped || this.mode !== 'mse' || !this.ws) return;
    const v = this.video;
    if (v.paused && !this.userPaused && v.readyState >= 2) v.play().catch(() => {});
    this.toEdge(false);
    const t = v.currentTime;
    if (t !== this.lastTime) { this.lastTime = t; this.lastMove = Date.now(); }
    if (this.lastMove && Date.now() - this.lastMove > 12000 && !this.userPaused) {
      this.lastMove = Date.now();
      this.restart();
    }
  }

  // --- HLS and snapshots ---------------------------------------------------------------------------------

  startHls() {
    this.mode = 'hls';
    this.paintBadges();
    const q = this.stream === 'sub' ? '?stream=sub' : '';
    this.video.src = `/api/cameras/${encodeURIComponent(this.cam.name)}/live.m3u8${q}`;
    this.video.play().catch(() => {});
  }

  startSnapshots() {
    this.mode = 'snap';
    this.paintBadges();
    this.video.hidden = true;
    if (!this.img) {
      this.img = h('img', { alt: this.cam.name, dataset: { testid: 'live-snapshot' } });
      this.box.insertBefore(this.img, this.spin);
    }
    const next = () => {
      if (this.stopped) return;
      const img = new Image();
      img.onload = () => {
        if (this.stopped) return;
        this.img.src = img.src;
        this.spin.hidden = true;
        this.setMsg('');
        this.snapTimer = setTimeout(next, 1000);
      };
      img.onerror = () => {
        this.setMsg(this.t('player.noPicture'));
        this.snapTimer = setTimeout(next, 3000);
      };
      img.src = `/api/cameras/${encodeURIComponent(this.cam.name)}/snapshot.jpg?t=${Date.now()}`;
    };
    next();
  }
}

/** Strings the player shows; merged by the pages that use it. */
export const playerStrings = {
  en: {
    'player.sub': 'Sub-stream',
    'player.snapshots': 'Snapshots',
    'player.reconnecting': 'Reconnecting…',
    'player.noPicture': 'No picture',
  },
  de: {
    'player.sub': 'Substream',
    'player.snapshots': 'Standbilder',
    'player.reconnecting': 'Verbindung wird wiederhergestellt …',
    'player.noPicture': 'Kein Bild',
  },
};
