// timeline.js — the day bar under the camera view: recorded spans, events, the play cursor, "now" and the
// export range, drawn on a canvas (one draw per animation frame however often playback moves the cursor).
// Why a canvas and not DOM: a day of a busy camera is thousands of spans and events; a canvas draws them in
// a millisecond and resizes for free. The component knows nothing about video: it reports what the user
// does (onScrub while dragging, onSeek on release, onView when the visible window changes, onRange when a
// range handle moves) and draws what it is told (setData, setCursor, setRange, setLive).
//
// Input: drag (mouse, pen, one finger) scrubs, dragging the hour labels pans; two fingers pinch-zoom and
// pan; the wheel zooms around the pointer (a horizontal wheel or Shift pans); arrows move the cursor
// (Shift: a minute), +/- zoom. Zoom goes from two days down to two minutes.

import { h } from './dom.js';

export const MIN_SPAN = 2 * 60e3;
export const MAX_SPAN = 48 * 3600e3;
const STEPS = [10e3, 30e3, 60e3, 2 * 60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3,
  3 * 3600e3, 6 * 3600e3, 12 * 3600e3];
const HANDLE_HIT = 12;

export class Timeline {
  /**
   * `el`: the element to fill; `opts`: { fmt, t, onScrub(ms), onSeek(ms), onView(start, end), onRange(r) }.
   * The view starts as `[start, end)`.
   */
  constructor(el, opts, start, end) {
    this.opts = opts;
    this.spans = [];
    this.events = [];
    this.cursor = null;
    this.preview = null;
    this.range = null;
    this.live = false;
    this.start = start;
    this.end = end;
    this.userViewAt = 0;
    this.canvas = h('canvas');
    this.bar = h('div', { class: 'tl-bar', tabIndex: 0, role: 'slider', 'aria-label': opts.t('tl.label'),
      dataset: { testid: 'timeline' } }, this.canvas);
    el.append(this.bar);
    this.pointers = new Map();
    this.drag = null;
    this.bind();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.bar);
    this.resize();
    this.emitView();
  }

  destroy() {
    this.ro.disconnect();
    cancelAnimationFrame(this.raf);
    clearTimeout(this.viewTimer);
  }

  // --- state -----------------------------------------------------------------------------------------------

  setData({ spans, events }) {
    if (spans) this.spans = spans;
    if (events) this.events = events;
    this.redraw();
  }

  /**
   * The play position (ms). `how`: 'follow' (playback moving it: the view pages along when it runs off the
   * right edge, unless the user moved the view in the last 15 s) or 'reveal' (a jump: always brought into
   * view).
   */
  setCursor(ms, how = 'follow') {
    const prev = this.cursor;
    this.cursor = ms;
    this.bar.dataset.cursor = String(Math.round(ms));
    this.bar.setAttribute('aria-valuenow', String(Math.round(ms)));
    this.bar.setAttribute('aria-valuetext', this.opts.fmt.dateTime(ms));
    const span = this.end - this.start;
    const out = ms > this.end - span * 0.03 || ms < this.start;
    const wasIn = prev === null || (prev >= this.start && prev <= this.end);
    const userQuiet = Date.now() - this.userViewAt > 15000;
    if (out && !this.drag && (how === 'reveal' || (wasIn && userQuiet))) {
      this.setView(ms - span * 0.75, ms + span * 0.25, false);
    }
    this.redraw();
  }

  /** Whether the user is dragging the cursor right now. */
  get scrubbing() {
    return this.drag?.kind === 'scrub';
  }

  setLive(live) {
    this.live = live;
    this.redraw();
  }

  /** The export range `{start, end}` (ms) with its two handles, or null. */
  setRange(r) {
    this.range = r ? { start: Math.min(r.start, r.end), end: Math.max(r.start, r.end) } : null;
    this.redraw();
  }

  /** Shows `[start, end)`; `byUser` (default) pauses following the cursor for a while. */
  setView(start, end, byUser = true) {
    if (byUser) this.userViewAt = Date.now();
    let span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, end - start));
    const mid = (start + end) / 2;
    const latest = Date.now() + span * 0.5;
    let s = mid - span / 2;
    if (s + span > latest) s = latest - span;
    this.start = s;
    this.end = s + span;
    this.bar.dataset.viewStart = String(Math.round(this.start));
    this.bar.dataset.viewEnd = String(Math.round(this.end));
    this.bar.setAttribute('aria-valuemin', this.bar.dataset.viewStart);
    this.bar.setAttribute('aria-valuemax', this.bar.dataset.viewEnd);
    this.redraw();
    this.emitView();
  }

  /** Zooms by `factor` (< 1 zooms in) keeping `at` (ms; default the cursor or the middle) in place. */
  zoom(factor, at) {
    const span = this.end - this.start;
    const anchor = at ?? (this.cursor !== null && this.cursor >= this.start && this.cursor <= this.end
      ? this.cursor : (this.start + this.end) / 2);
    const newSpan = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span * factor));
    const frac = (anchor - this.start) / span;
    this.setView(anchor - frac * newSpan, anchor - frac * newSpan + newSpan);
  }

  pan(fraction) {
    const span = this.end - this.start;
    this.setView(this.start + span * fraction, this.end + span * fraction);
  }

  emitView() {
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => this.opts.onView?.(this.start, this.end), 120);
  }

  // --- geometry --------------------------------------------------------------------------------------------

  resize() {
    const r = this.bar.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, r.width);
    this.h = Math.max(1, r.height);
    this.canvas.width = Math.round(this.w * dpr);
    this.canvas.height = Math.round(this.h * dpr);
    this.dpr = dpr;
    const cs = getComputedStyle(this.bar);
    const v = (n, d) => cs.getPropertyValue(n).trim() || d;
    this.colors = { span: v('--span', '#2f8f5b'), event: v('--event', '#ffb020'), text: v('--muted', '#9aa6b2'),
      line: v('--line', '#2a323b'), accent: v('--accent', '#4ea1ff'), rec: v('--rec', '#ff4d4f'),
      bg: v('--bg', '#0f1317') };
    this.bar.dataset.viewStart = String(Math.round(this.start));
    this.bar.dataset.viewEnd = String(Math.round(this.end));
    this.redraw();
  }

  x(ms) {
    return ((ms - this.start) / (this.end - this.start)) * this.w;
  }

  at(clientX) {
    const r = this.bar.getBoundingClientRect();
    return this.start + ((clientX - r.left) / r.width) * (this.end - this.start);
  }

  // --- drawing ---------------------------------------------------------------------------------------------

  redraw() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.draw(); });
  }

  draw() {
    const c = this.canvas.getContext('2d');
    const { w, h, colors: col } = this;
    c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    const bandTop = 22, bandH = 22, evTop = 47, evH = 10;
    // The future is shaded.
    const now = Date.now();
    const xn = this.x(now);
    if (xn < w) {
      c.fillStyle = 'rgba(128,128,128,0.12)';
      c.fillRect(Math.max(0, xn), 0, w - Math.max(0, xn), h);
    }
    // Recorded spans.
    c.fillStyle = 'rgba(128,128,128,0.18)';
    c.fillRect(0, bandTop, w, bandH);
    c.fillStyle = col.span;
    for (const s of this.spans) {
      const x0 = this.x(s.start), x1 = this.x(s.end);
      if (x1 < 0 || x0 > w) continue;
      c.fillRect(Math.max(0, x0), bandTop, Math.max(1.5, Math.min(w, x1) - Math.max(0, x0)), bandH);
    }
    // Events.
    c.fillStyle = col.event;
    for (const e of this.events) {
      const x0 = this.x(e.start), x1 = this.x(e.end ?? now);
      if (x1 < 0 || x0 > w) continue;
      c.fillRect(Math.max(0, x0), evTop, Math.max(3, Math.min(w, x1) - Math.max(0, x0)), evH);
    }
    // Ticks and labels (local time).
    const span = this.end - this.start;
    const step = STEPS.find((s) => (s / span) * w >= 80) || 24 * 3600e3;
    c.font = '11px system-ui, sans-serif';
    c.textBaseline = 'alphabetic';
    c.textAlign = 'center';
    const tz = (ms) => -new Date(ms).getTimezoneOffset() * 60e3;
    let t0 = Math.ceil((this.start + tz(this.start)) / step) * step - tz(this.start);
    for (let t = t0; t < this.end; t += step) {
      const x = this.x(t);
      const local = new Date(t);
      const midnight = local.getHours() === 0 && local.getMinutes() === 0 && local.getSeconds() === 0;
      c.fillStyle = col.line;
      c.fillRect(Math.round(x), 15, 1, midnight ? h - 15 : 6);
      c.fillStyle = col.text;
      const label = midnight ? this.opts.fmt.day(t) : step < 60e3 ? this.opts.fmt.time(t) : this.opts.fmt.clock(t);
      c.fillText(label, Math.min(w - 24, Math.max(24, x)), 12);
    }
    // Now.
    if (xn >= 0 && xn <= w) {
      c.fillStyle = col.rec;
      c.fillRect(Math.round(xn) - 1, 15, 2, h - 15);
    }
    // Export range.
    if (this.range) {
      const x0 = this.x(this.range.start), x1 = this.x(this.range.end);
      c.fillStyle = 'rgba(78,161,255,0.25)';
      c.fillRect(x0, 15, x1 - x0, h - 15);
      c.fillStyle = col.accent;
      for (const x of [x0, x1]) {
        c.fillRect(x - 2, 15, 4, h - 15);
        c.beginPath();
        c.arc(x, h / 2 + 8, 6, 0, Math.PI * 2);
        c.fill();
      }
    }
    // Where the mouse points.
    if (this.hover !== null && this.hover !== undefined && !this.drag) {
      const x = Math.round(this.x(this.hover));
      c.fillStyle = 'rgba(128,128,128,0.6)';
      c.fillRect(x, 15, 1, h - 15);
      c.font = '11px system-ui, sans-serif';
      const label = this.opts.fmt.time(this.hover);
      const tw = c.measureText(label).width + 8;
      const lx = Math.min(w - tw, Math.max(0, x - tw / 2));
      c.fillStyle = col.bg;
      c.fillRect(lx, 0, tw, 14);
      c.fillStyle = col.text;
      c.textAlign = 'left';
      c.fillText(label, lx + 4, 11);
      c.textAlign = 'center';
    }
    // Cursor (or the scrub preview while dragging).
    const cur = this.preview ?? this.cursor;
    if (cur !== null && cur !== undefined) {
      const x = Math.round(this.x(cur));
      c.fillStyle = this.live && this.preview === null ? col.rec : col.accent;
      c.fillRect(x - 1, 14, 3, h - 14);
      c.beginPath();
      c.moveTo(x - 6, 14);
      c.lineTo(x + 7, 14);
      c.lineTo(x + 0.5, 21);
      c.fill();
      if (this.preview !== null) {
        const label = this.opts.fmt.time(cur);
        c.font = '600 12px system-ui, sans-serif';
        const tw = c.measureText(label).width + 10;
        const lx = Math.min(w - tw, Math.max(0, x - tw / 2));
        c.fillStyle = col.accent;
        c.fillRect(lx, 0, tw, 15);
        c.fillStyle = '#fff';
        c.textAlign = 'left';
        c.fillText(label, lx + 5, 12);
      }
    }
  }

  // --- input -----------------------------------------------------------------------------------------------

  bind() {
    const b = this.bar;
    b.addEventListener('pointerdown', (e) => {
      b.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, e.clientX);
      if (this.pointers.size === 2) {
        const xs = [...this.pointers.values()];
        this.drag = { kind: 'pinch', dist: Math.abs(xs[0] - xs[1]) || 1, span: this.end - this.start,
          mid: this.at((xs[0] + xs[1]) / 2) };
        this.preview = null;
        return;
      }
      const ms = this.at(e.clientX);
      const r = this.range;
      const rect = b.getBoundingClientRect();
      const near = (t) => Math.abs(this.x(t) - (e.clientX - rect.left)) < HANDLE_HIT;
      if (e.clientY - rect.top < 18) this.drag = { kind: 'pan', x0: e.clientX, start: this.start, end: this.end };
      else if (r && near(r.start)) this.drag = { kind: 'start' };
      else if (r && near(r.end)) this.drag = { kind: 'end' };
      else {
        this.drag = { kind: 'scrub' };
        this.preview = ms;
        this.opts.onScrub?.(ms);
      }
      this.redraw();
      e.preventDefault();
    });
    b.addEventListener('pointermove', (e) => {
      if (e.pointerType === 'mouse' && !this.drag) {
        this.hover = this.at(e.clientX);
        this.redraw();
      }
      if (!this.pointers.has(e.pointerId) || !this.drag) return;
      this.pointers.set(e.pointerId, e.clientX);
      const ms = this.at(e.clientX);
      const d = this.drag;
      if (d.kind === 'pinch' && this.pointers.size >= 2) {
        // Two fingers zoom and pan: the time first under their middle stays under it.
        const xs = [...this.pointers.values()];
        const dist = Math.abs(xs[0] - xs[1]) || 1;
        const rect = b.getBoundingClientRect();
        const frac = ((xs[0] + xs[1]) / 2 - rect.left) / rect.width;
        const span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, d.span * (d.dist / dist)));
        this.setView(d.mid - frac * span, d.mid - frac * span + span);
      } else if (d.kind === 'pan') {
        const shift = ((e.clientX - d.x0) / this.w) * (d.end - d.start);
        this.setView(d.start - shift, d.end - shift);
      } else if (d.kind === 'scrub') {
        this.preview = ms;
        this.opts.onScrub?.(ms);
        this.redraw();
      } else if (d.kind === 'start' || d.kind === 'end') {
        const r = { ...this.range, [d.kind]: ms };
        if (r.start > r.end) { d.kind = d.kind === 'start' ? 'end' : 'start'; [r.start, r.end] = [r.end, r.start]; }
        this.range = r;
        this.opts.onRange?.(r);
        this.redraw();
      }
    });
    const up = (e) => {
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.delete(e.pointerId);
      const d = this.drag;
      if (!d) return;
      if (d.kind === 'pinch') {
        if (this.pointers.size === 0) this.drag = null;
        return;
      }
      this.drag = null;
      if (d.kind === 'scrub' && e.type === 'pointerup') {
        let ms = Math.min(this.at(e.clientX), Date.now());
        // A click on an event's mark plays that event (from its pre-roll).
        const rect = b.getBoundingClientRect();
        if (e.clientY - rect.top >= 44) {
          const x = e.clientX - rect.left;
          const ev = this.events.find((v) => x >= this.x(v.start) - 6 && x <= Math.max(this.x(v.end ?? Date.now()), this.x(v.start) + 3) + 6);
          if (ev) ms = ev.start - (this.opts.preRoll || 0);
        }
        this.preview = null;
        this.cursor = ms;
        this.opts.onSeek?.(ms);
      }
      this.preview = null;
      this.redraw();
    };
    b.addEventListener('pointerup', up);
    b.addEventListener('pointerleave', () => { this.hover = null; this.redraw(); });
    b.addEventListener('pointercancel', up);
    b.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
        const px = Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.deltaY;
        this.pan(px / this.w);
      } else {
        this.zoom(Math.exp(e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), this.at(e.clientX));
      }
    }, { passive: false });
    b.addEventListener('keydown', (e) => {
      const step = e.shiftKey ? 60e3 : 10e3;
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        const base = this.cursor ?? Date.now();
        const ms = Math.min(Date.now(), base + (e.key === 'ArrowLeft' ? -step : step));
        this.cursor = ms;
        this.opts.onSeek?.(ms);
        this.redraw();
      } else if (e.key === '+' || e.key === '=') this.zoom(0.5);
      else if (e.key === '-') this.zoom(2);
      else return;
      e.preventDefault();
    });
  }
}

/** The labelled zoom steps offered as buttons, widest first. */
export const ZOOMS = [24 * 3600e3, 6 * 3600e3, 3600e3, 15 * 60e3, 5 * 60e3];
