// camera.js — one camera (#/camera/NAME[/TIME]): live and recorded video in one place, the timeline under it,
// and export. Why it is shaped this way:
// - One control switches live ↔ recorded; scrubbing the timeline anywhere in the past plays the recording
//   from there, reaching "now" while playing returns to live.
// - Recorded video is a plain <video> on video.mp4?start=&end= for a 10-minute window around the cursor: the
//   server answers Range requests, so the browser streams and seeks it like any file, playbackRate gives
//   1–8×, and the file's timeline is the wall clock (a gap stretches the frame before it), so
//   wall = window start + currentTime. The next window is loaded when one ends.
// - Export downloads through fetch() with a stream reader so a progress bar can show bytes of
//   Content-Length, then hands the browser a Blob link named camera-START.mp4.

import { ptzStrings, ptzControls } from './ptz.js';
import { LivePlayer, playerStrings } from './player.js';
import { Timeline, ZOOMS } from './timeline.js';
import { stateBadges } from './live.js';
import { svg } from './dom.js';

/** Seconds of an event's pre-roll shown before it starts. */
export const PRE_ROLL = 5e3;
const WINDOW_BEFORE = 2 * 60e3;
const WINDOW_AFTER = 8 * 60e3;
const SPEEDS = [1, 2, 4, 8];
/** Object labels the timeline can be narrowed to (events where object detection saw one). */
const LABELS = ['person', 'car', 'dog', 'cat', 'bird'];

const strings = {
  en: {
    ...ptzStrings.en,
    ...playerStrings.en,
    'cam.back': 'All cameras',
    'cam.notFound': 'No camera "{name}" (or it is not shared with you).',
    'cam.live': 'Live',
    'cam.goLive': 'Back to live',
    'cam.play': 'Play',
    'cam.pause': 'Pause',
    'cam.prevEvent': 'Previous event',
    'cam.nextEvent': 'Next event',
    'cam.noPrev': 'No earlier event.',
    'cam.noNext': 'No later event.',
    'cam.speed': 'Speed',
    'cam.fullscreen': 'Full screen',
    'cam.mute': 'Sound off',
    'cam.unmute': 'Sound on',
    'cam.nothing': 'Nothing recorded at this time.',
    'cam.loadFailed': 'The recording cannot be played: {msg}',
    'cam.export': 'Export',
    'cam.keepNote': 'Note',
    'cam.keep': 'Keep this clip',
    'cam.kept': 'Kept: retention will not delete this clip.',
    'cam.exportTitle': 'Export a clip',
    'cam.exportHint': 'Drag the blue handles on the timeline or type the times.',
    'cam.from': 'From',
    'cam.to': 'To',
    'cam.download': 'Download MP4',
    'cam.downloading': 'Downloading… {done} of {total}',
    'cam.downloaded': 'Saved {file} ({size}).',
    'cam.saveAgain': 'Save again',
    'cam.badRange': 'The end must be after the start.',
    'cam.dataFailed': 'The timeline cannot be loaded: {msg}',
    'tl.label': 'Timeline',
    'tl.zoomIn': 'Zoom in',
    'tl.zoomOut': 'Zoom out',
    'tl.earlier': 'Earlier',
    'tl.later': 'Later',
    'tl.day': 'Day',
    'tl.z86400000': '24 h',
    'tl.z21600000': '6 h',
    'tl.z3600000': '1 h',
    'tl.z900000': '15 min',
    'tl.z300000': '5 min',
    'tl.labels': 'Events shown',
    'tl.allEvents': 'All events',
    'tl.l.person': 'Person',
    'tl.l.car': 'Vehicle',
    'tl.l.dog': 'Dog',
    'tl.l.cat': 'Cat',
    'tl.l.bird': 'Bird',
  },
  de: {
    ...ptzStrings.de,
    ...playerStrings.de,
    'cam.back': 'Alle Kameras',
    'cam.notFound': 'Keine Kamera „{name}“ (oder sie ist nicht für Sie freigegeben).',
    'cam.live': 'Live',
    'cam.goLive': 'Zurück zu live',
    'cam.play': 'Abspielen',
    'cam.pause': 'Pause',
    'cam.prevEvent': 'Vorheriges Ereignis',
    'cam.nextEvent': 'Nächstes Ereignis',
    'cam.noPrev': 'Kein früheres Ereignis.',
    'cam.noNext': 'Kein späteres Ereignis.',
    'cam.speed': 'Geschwindigkeit',
    'cam.fullscreen': 'Vollbild',
    'cam.mute': 'Ton aus',
    'cam.unmute': 'Ton an',
    'cam.nothing': 'Zu dieser Zeit gibt es keine Aufnahme.',
    'cam.loadFailed': 'Die Aufnahme kann nicht abgespielt werden: {msg}',
    'cam.export': 'Exportieren',
    'cam.keepNote': 'Notiz',
    'cam.keep': 'Clip behalten',
    'cam.kept': 'Behalten: die Aufbewahrungsregeln löschen diesen Clip nicht.',
    'cam.exportTitle': 'Clip exportieren',
    'cam.exportHint': 'Ziehen Sie die blauen Griffe auf der Zeitleiste oder geben Sie die Zeiten ein.',
    'cam.from': 'Von',
    'cam.to': 'Bis',
    'cam.download': 'MP4 herunterladen',
    'cam.downloading': 'Wird heruntergeladen … {done} von {total}',
    'cam.downloaded': '{file} gespeichert ({size}).',
    'cam.saveAgain': 'Erneut speichern',
    'cam.badRange': 'Das Ende muss nach dem Anfang liegen.',
    'cam.dataFailed': 'Die Zeitleiste kann nicht geladen werden: {msg}',
    'tl.label': 'Zeitleiste',
    'tl.zoomIn': 'Vergrößern',
    'tl.zoomOut': 'Verkleinern',
    'tl.earlier': 'Früher',
    'tl.later': 'Später',
    'tl.day': 'Tag',
    'tl.z86400000': '24 Std.',
    'tl.z21600000': '6 Std.',
    'tl.z3600000': '1 Std.',
    'tl.z900000': '15 Min.',
    'tl.z300000': '5 Min.',
    'tl.labels': 'Gezeigte Ereignisse',
    'tl.allEvents': 'Alle Ereignisse',
    'tl.l.person': 'Person',
    'tl.l.car': 'Fahrzeug',
    'tl.l.dog': 'Hund',
    'tl.l.cat': 'Katze',
    'tl.l.bird': 'Vogel',
  },
};

/** 'YYYY-MM-DDTHH:MM:SS' in local time, for <input type=datetime-local>. */
function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The export's file name: camera-START.mp4 with the start in UTC, no colons. */
export function exportName(camera, startMs) {
  return `${camera}-${new Date(startMs).toISOString().slice(0, 19).replace(/:/g, '')}Z.mp4`;
}

function icon(path) {
  return svg('svg', { viewBox: '0 0 24 24', width: '18', height: '18', 'aria-hidden': 'true' },
    svg('path', { fill: 'currentColor', d: path }));
}
const ICONS = {
  play: 'M8 5v14l11-7z',
  pause: 'M6 5h4v14H6zm8 0h4v14h-4z',
  prev: 'M6 6h2v12H6zm3.5 6 8.5 6V6z',
  next: 'M16 6h2v12h-2zM6 18l8.5-6L6 6z',
  left: 'M15.4 7.4 14 6l-6 6 6 6 1.4-1.4L10.8 12z',
  right: 'M8.6 16.6 10 18l6-6-6-6-1.4 1.4 4.6 4.6z',
  plus: 'M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z',
  minus: 'M19 13H5v-2h14z',
  download: 'M5 20h14v-2H5zM19 9h-4V3H9v6H5l7 7z',
  full: 'M7 14H5v5h5v-2H7zm-2-4h2V7h3V5H5zm12 7h-3v2h5v-5h-2zM14 5v2h3v3h2V5z',
  muted: 'M16.5 12 19 9.5 17.6 8.1 15.1 10.6 12.6 8.1 11.2 9.5l2.5 2.5-2.5 2.5 1.4 1.4 2.5-2.5 2.5 2.5 1.4-1.4zM3 9v6h4l5 5V4L7 9z',
  sound: 'M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z',
};

export default {
  path: 'camera',
  nav: null,
  admin: false,
  strings,
  async render(el, ctx, params) {
    const { h, t, api, fmt } = ctx;
    const name = params[0] || '';
    const cams = await api('/api/cameras');
    const cam = cams.find((c) => c.name === name);
    if (!cam) {
      el.append(h('div', { class: 'notice' }, h('p', {}, t('cam.notFound', { name })),
        h('a', { class: 'btn', href: '#/live' }, t('cam.back'))));
      return null;
    }
    const enc = encodeURIComponent(name);
    const st = { mode: null, cursor: Date.now(), speed: 1, file: null, player: null, spans: [], events: [],
      dataSeq: 0, download: null, left: false, label: '' };

    // --- layout ------------------------------------------------------------------------------------------
    const badges = h('span', { class: 'head-badges' });
    const stage = h('div', { class: 'stage', dataset: { testid: 'stage' } });
    const recVideo = h('video', { class: 'rec', playsInline: true, muted: true, preload: 'auto',
      dataset: { testid: 'rec-video' }, hidden: true });
    recVideo.setAttribute('playsinline', '');
    // While scrubbing, the recorded picture at the pointer (snapshot.jpg?at=), one request at a time.
    const scrubImg = h('img', { class: 'scrub-preview', alt: '', hidden: true, dataset: { testid: 'scrub-preview' } });
    stage.append(recVideo, scrubImg);
    const liveBtn = h('button', { type: 'button', class: 'btn btn-live', dataset: { testid: 'live-toggle' },
      onclick: () => (st.mode === 'live' ? playAt(Date.now() - 60e3) : goLive()) }, t('cam.live'));
    const playBtn = h('button', { type: 'button', class: 'btn btn-icon', dataset: { testid: 'play' },
      onclick: togglePlay });
    const prevBtn = h('button', { type: 'button', class: 'btn btn-icon', title: t('cam.prevEvent'),
      'aria-label': t('cam.prevEvent'), dataset: { testid: 'prev-event' }, onclick: () => jumpEvent(-1) }, icon(ICONS.prev));
    const nextBtn = h('button', { type: 'button', class: 'btn btn-icon', title: t('cam.nextEvent'),
      'aria-label': t('cam.nextEvent'), dataset: { testid: 'next-event' }, onclick: () => jumpEvent(1) }, icon(ICONS.next));
    const speedBox = h('div', { class: 'speed', role: 'group', 'aria-label': t('cam.speed') },
      SPEEDS.map((s) => h('button', { type: 'button', dataset: { speed: String(s), testid: `speed-${s}` },
        onclick: () => setSpeed(s) }, `${s}×`)));
    const clock = h('span', { class: 'clock', dataset: { testid: 'clock' }, 'aria-live': 'off' });
    const exportBtn = h('button', { type: 'button', class: 'btn', dataset: { testid: 'export-open' },
      onclick: () => toggleExport() }, icon(ICONS.download), t('cam.export'));
    const muteBtn = h('button', { type: 'button', class: 'btn btn-icon', hidden: !cam.has_audio, dataset: { testid: 'mute' },
      onclick: () => { st.muted = !st.muted; applyMute(); } });
    const fullBtn = h('button', { type: 'button', class: 'btn btn-icon', title: t('cam.fullscreen'),
      'aria-label': t('cam.fullscreen'), dataset: { testid: 'fullscreen' },
      hidden: !document.fullscreenEnabled && !HTMLVideoElement.prototype.webkitEnterFullscreen,
      onclick: () => {
        if (document.fullscreenEnabled) {
          (document.fullscreenElement ? document.exitFullscreen() : stage.requestFullscreen()).catch(() => {});
        } else {
          // iPhone: only a <video> can go full screen.
          (st.mode === 'live' && st.player ? st.player.video : recVideo).webkitEnterFullscreen?.();
        }
      } },
    icon(ICONS.full));
    const controls = h('div', { class: 'controls' }, liveBtn, prevBtn, playBtn, nextBtn, speedBox, exportBtn, muteBtn,
      fullBtn, clock);

    const tlBox = h('div', { class: 'timeline' });
    const dayInput = h('input', { type: 'date', class: 'tl-day', 'aria-label': t('tl.day'), dataset: { testid: 'day' },
      onchange: () => {
        if (!dayInput.value) return;
        const [y, m, d] = dayInput.value.split('-').map(Number);
        const s = new Date(y, m - 1, d).getTime();
        tl.setView(s, new Date(y, m - 1, d + 1).getTime());
      } });
    const spanLabel = h('span', { class: 'tl-span' });
    // Only the events where object detection saw this (the event markers and previous/next event).
    const labelSel = h('select', { class: 'tl-label', 'aria-label': t('tl.labels'), title: t('tl.labels'),
      dataset: { testid: 'tl-label' }, onchange: () => { st.label = labelSel.value; loadData(tl.start, tl.end); } },
    h('option', { value: '' }, t('tl.allEvents')),
    LABELS.map((l) => h('option', { value: l }, t(`tl.l.${l}`))));
    const tools = h('div', { class: 'tl-tools' },
      h('button', { type: 'button', class: 'btn btn-icon', title: t('tl.earlier'), 'aria-label': t('tl.earlier'),
        dataset: { testid: 'tl-earlier' }, onclick: () => tl.pan(-0.5) }, icon(ICONS.left)),
      h('button', { type: 'button', class: 'btn btn-icon', title: t('tl.zoomOut'), 'aria-label': t('tl.zoomOut'),
        dataset: { testid: 'zoom-out' }, onclick: () => tl.zoom(2) }, icon(ICONS.minus)),
      h('button', { type: 'button', class: 'btn btn-icon', title: t('tl.zoomIn'), 'aria-label': t('tl.zoomIn'),
        dataset: { testid: 'zoom-in' }, onclick: () => tl.zoom(0.5) }, icon(ICONS.plus)),
      h('button', { type: 'button', class: 'btn btn-icon', title: t('tl.later'), 'aria-label': t('tl.later'),
        dataset: { testid: 'tl-later' }, onclick: () => tl.pan(0.5) }, icon(ICONS.right)),
      h('span', { class: 'zoom-presets' }, ZOOMS.map((z) => h('button', { type: 'button', class: 'btn btn-ghost zoom-preset',
        dataset: { testid: `zoom-${z / 60e3}m` }, onclick: () => {
          const c = st.cursor;
          tl.setView(c - z * 0.75, c + z * 0.25);
        } }, t(`tl.z${z}`)))),
      dayInput, labelSel, spanLabel);

    const exportBox = buildExport();
    const head = h('div', { class: 'page-head' },
      h('a', { class: 'btn btn-icon', href: '#/live', title: t('cam.back'), 'aria-label': t('cam.back') }, icon(ICONS.left)),
      h('h1', {}, name), badges);
    const error = h('p', { class: 'tile-error', hidden: true });
    const dataError = h('p', { class: 'tile-error', role: 'status', hidden: true, dataset: { testid: 'timeline-error' } });
    const ptzSlot = h('div');
    el.append(h('div', { class: 'cam-layout' }, head, error, stage, controls, ptzSlot, tlBox, dataError, tools, exportBox));
    // PTZ controls only for cameras that have PTZ (the presets answer says so).
    let ptzBox = null;
    ptzControls(ctx, name).then((box) => { if (box && !st.left) { ptzBox = box; ptzSlot.append(box); } });

    const now = Date.now();
    const tl = new Timeline(tlBox, {
      t, fmt, preRoll: PRE_ROLL,
      onScrub: (ms) => { paintClock(ms); preview(ms); },
      onSeek: (ms) => { st.previewWant = null; setTimeout(hidePreview, 4000); playAt(ms); },
      onView: (s, e) => { loadData(s, e); paintSpan(s, e); },
      onRange: (r) => setRange(r, true),
    }, now - 45 * 60e3, now + 15 * 60e3);

    paintSpan(tl.start, tl.end);

    function paintBadges(c) {
      badges.replaceChildren(...stateBadges(c, t).map(([cls, text]) => h('span', { class: `badge ${cls}` }, text)));
      error.textContent = c.status !== 'streaming' && c.last_error ? c.last_error : '';
      error.hidden = !error.textContent;
    }
    paintBadges(cam);

    function paintSpan(s, e) {
      spanLabel.textContent = `${fmt.dateTime(s)} – ${fmt.time(e)}`;
      dayInput.value = toLocalInput((s + e) / 2).slice(0, 10);
    }

    function paintClock(ms) {
      clock.textContent = fmt.dateTime(ms);
      clock.dataset.t = String(Math.round(ms));
    }

    function applyMute() {
      st.muted = st.muted !== false;
      recVideo.muted = st.muted;
      if (st.player) st.player.video.muted = st.muted;
      muteBtn.replaceChildren(icon(st.muted ? ICONS.muted : ICONS.sound));
      muteBtn.title = t(st.muted ? 'cam.unmute' : 'cam.mute');
      muteBtn.setAttribute('aria-label', muteBtn.title);
    }

    function paintControls() {
      const live = st.mode === 'live';
      liveBtn.classList.toggle('on', live);
      liveBtn.textContent = live ? `● ${t('cam.live')}` : t('cam.goLive');
      liveBtn.setAttribute('aria-pressed', String(live));
      const paused = live ? st.player?.userPaused : recVideo.paused;
      playBtn.replaceChildren(icon(paused ? ICONS.play : ICONS.pause));
      playBtn.title = paused ? t('cam.play') : t('cam.pause');
      playBtn.setAttribute('aria-label', playBtn.title);
      playBtn.dataset.state = paused ? 'paused' : 'playing';
      for (const b of speedBox.children) {
        b.classList.toggle('on', Number(b.dataset.speed) === st.speed);
        b.disabled = live;
      }
      stage.dataset.mode = st.mode;
    }

    // --- data ----------------------------------------------------------------------------------------------
    async function loadData(s, e) {
      const seq = ++st.dataSeq;
      const span = e - s;
      const from = new Date(s - span).toISOString();
      const to = new Date(Math.min(e + span, Date.now() + 60e3)).toISOString();
      try {
        const [spans, events] = await Promise.all([
          api(`/api/cameras/${enc}/recordings?start=${encodeURIComponent(from)}&end=${encodeURIComponent(to)}`),
          api(`/api/events?camera=${enc}&start=${encodeURIComponent(from)}&end=${encodeURIComponent(to)}&limit=2000${
            st.label ? `&label=${encodeURIComponent(st.label)}` : ''}`),
        ]);
        if (seq !== st.dataSeq || st.left) return;
        st.spans = spans.map((x) => ({ start: Date.parse(x.start), end: Date.parse(x.end) }));
        st.events = events.map((x) => ({ id: x.id, kind: x.kind, start: Date.parse(x.start),
          end: x.end ? Date.parse(x.end) : null })).sort((a, b) => a.start - b.start);
        tl.setData({ spans: st.spans, events: st.events });
        tlBox.dataset.loaded = 'true';
        dataError.hidden = true;
      } catch (e) {
        // Shown under the timeline (a toast every 10 s would nag); the next refresh tries again.
        if (seq !== st.dataSeq || st.left || e.name === 'AbortError') return;
        dataError.textContent = t('cam.dataFailed', { msg: e.message });
        dataError.hidden = false;
      }
    }

    async function spansAround(ms) {
      const r = await api(`/api/cameras/${enc}/recordings?start=${encodeURIComponent(new Date(ms - WINDOW_BEFORE - 60e3).toISOString())}&end=${encodeURIComponent(new Date(ms + WINDOW_AFTER + 3600e3).toISOString())}`);
      return r.map((x) => ({ start: Date.parse(x.start), end: Date.parse(x.end) }));
    }

    function preview(ms) {
      if (!st.spans.some((s) => ms >= s.start && ms < s.end)) return;
      st.previewWant = ms;
      if (st.previewBusy) return;
      st.previewBusy = true;
      const img = new Image();
      const done = () => {
        st.previewBusy = false;
        if (st.previewWant !== null && st.previewWant !== ms) preview(st.previewWant);
      };
      img.onload = () => {
        if (st.previewWant !== null) { scrubImg.src = img.src; scrubImg.hidden = false; }
        done();
      };
      img.onerror = done;
      img.src = `/api/cameras/${enc}/snapshot.jpg?at=${encodeURIComponent(new Date(ms).toISOString())}`;
    }

    function hidePreview() {
      scrubImg.hidden = true;
    }
    recVideo.addEventListener('seeked', hidePreview);
    recVideo.addEventListener('playing', hidePreview);

    // --- live ----------------------------------------------------------------------------------------------
    function goLive() {
      if (st.left) return; // an answer that arrived after the page was left must not start a player
      stopRecorded();
      hidePreview();
      st.mode = 'live';
      if (!st.player) {
        st.player = new LivePlayer(stage, cam, { t });
        st.player.video.addEventListener('pause', paintControls);
        st.player.video.addEventListener('play', paintControls);
        st.player.start();
        applyMute();
      }
      tl.setLive(true);
      st.cursor = Date.now();
      tl.setCursor(st.cursor, 'reveal');
      tickLive();
      paintControls();
    }

    function stopLive() {
      if (st.player) st.player.stop();
      st.player = null;
      tl.setLive(false);
    }

    function tickLive() {
      if (st.mode !== 'live') return;
      st.cursor = Date.now();
      tl.setCursor(st.cursor);
      if (!tl.scrubbing) paintClock(st.cursor);
    }

    // --- recorded ------------------------------------------------------------------------------------------
    function stopRecorded() {
      st.file = null;
      recVideo.pause();
      recVideo.removeAttribute('src');
      recVideo.load();
      recVideo.hidden = true;
    }

    /** Plays the recording from `ms` (the next recorded moment when `ms` falls in a gap; live when none). */
    async function playAt(ms, { paused = false } = {}) {
      ms = Math.min(ms, Date.now());
      st.cursor = ms;
      tl.setCursor(ms, 'reveal');
      paintClock(ms);
      const f = st.file;
      if (st.mode === 'rec' && f && ms >= f.start && ms < f.end - 1000 && recVideo.readyState >= 1) {
        recVideo.currentTime = (ms - f.start) / 1000;
        if (!paused) recVideo.play().catch(() => {});
        return;
      }
      let spans;
      try { spans = await spansAround(ms); } catch (e) { if (!st.left) ctx.toast(e.message, 'error'); return; }
      if (st.left) return;
      const span = spans.find((s) => s.end > ms + 500);
      if (!span) {
        if (Date.now() - ms < 15e3 || !spans.length) { goLive(); return; }
        ctx.toast(t('cam.nothing'));
        goLive();
        return;
      }
      const at = Math.max(ms, span.start);
      const start = Math.max(at - WINDOW_BEFORE, span.start - 1000);
      const end = Math.min(at + WINDOW_AFTER, Date.now());
      if (end - at < 1000) { goLive(); return; }
      // The file begins at the first recorded frame at or after `start`.
      const first = spans.find((s) => s.end > start);
      const fileStart = Math.max(start, first ? first.start : start);
      stopLive();
      st.mode = 'rec';
      st.file = { start: fileStart, end, seekTo: (at - fileStart) / 1000, paused };
      recVideo.hidden = false;
      recVideo.src = `/api/cameras/${enc}/video.mp4?start=${encodeURIComponent(new Date(start).toISOString())}&end=${encodeURIComponent(new Date(end).toISOString())}`;
      recVideo.playbackRate = st.speed;
      if (!paused) recVideo.play().catch(() => {});
      paintControls();
    }

    recVideo.addEventListener('loadedmetadata', () => {
      const f = st.file;
      if (!f) return;
      if (f.seekTo > 0.05) recVideo.currentTime = Math.min(f.seekTo, Math.max(0, recVideo.duration - 0.1));
      f.seekTo = 0;
      recVideo.playbackRate = st.speed;
      if (f.paused) { recVideo.pause(); f.paused = false; } else recVideo.play().catch(() => {});
    });
    recVideo.addEventListener('timeupdate', () => {
      const f = st.file;
      if (!f || st.mode !== 'rec' || f.seekTo) return;
      st.cursor = f.start + recVideo.currentTime * 1000;
      tl.setCursor(st.cursor);
      if (!tl.scrubbing) paintClock(st.cursor);
    });
    recVideo.addEventListener('ended', () => {
      const f = st.file;
      if (!f || st.mode !== 'rec') return;
      const next = f.start + recVideo.duration * 1000 + 100;
      if (Date.now() - next < 10e3) goLive();
      else { st.file = null; playAt(next); }
    });
    recVideo.addEventListener('error', () => {
      if (!st.file) return;
      ctx.toast(t('cam.loadFailed', { msg: recVideo.error?.message || recVideo.error?.code || '' }), 'error');
    });
    recVideo.addEventListener('play', paintControls);
    recVideo.addEventListener('pause', paintControls);

    function togglePlay() {
      if (st.mode === 'live' && cam.record !== 'off') {
        // Pausing live holds the picture as a recording, so play continues from there (time shift).
        playAt(Date.now() - 3000, { paused: true });
        return;
      }
      if (st.mode === 'live') {
        const p = st.player;
        if (!p) return;
        p.userPaused = !p.userPaused;
        if (p.userPaused) p.video.pause();
        else { p.video.play().catch(() => {}); p.toEdge(true); }
        paintControls();
        return;
      }
      if (recVideo.paused) recVideo.play().catch(() => {});
      else recVideo.pause();
    }

    function setSpeed(s) {
      st.speed = s;
      recVideo.playbackRate = s;
      paintControls();
    }

    async function jumpEvent(dir) {
      const c = st.cursor;
      let ev = dir < 0
        ? [...st.events].reverse().find((e) => e.start - PRE_ROLL < c - 2000)
        : st.events.find((e) => e.start - PRE_ROLL > c + 1000);
      if (!ev) {
        try {
          const q = dir < 0 ? `end=${encodeURIComponent(new Date(c - 2000 + PRE_ROLL).toISOString())}&limit=1`
            : `start=${encodeURIComponent(new Date(c + 1000 + PRE_ROLL).toISOString())}&limit=500`;
          const list = (await api(`/api/events?camera=${enc}&${q}`))
            .map((x) => ({ start: Date.parse(x.start) }))
            .filter((e) => (dir < 0 ? e.start - PRE_ROLL < c - 2000 : e.start - PRE_ROLL > c + 1000))
            .sort((a, b) => a.start - b.start);
          ev = dir < 0 ? list[list.length - 1] : list[0];
        } catch (e) { if (!st.left) ctx.toast(e.message, 'error'); return; }
      }
      if (st.left) return;
      if (!ev) { ctx.toast(t(dir < 0 ? 'cam.noPrev' : 'cam.noNext')); return; }
      playAt(ev.start - PRE_ROLL);
    }

    // --- export --------------------------------------------------------------------------------------------
    function buildExport() {
      const from = h('input', { type: 'datetime-local', step: '1', dataset: { testid: 'export-start' },
        onchange: () => fromInputs() });
      const to = h('input', { type: 'datetime-local', step: '1', dataset: { testid: 'export-end' },
        onchange: () => fromInputs() });
      const bar = h('div');
      const progress = h('div', { class: 'progress', hidden: true, dataset: { testid: 'export-progress' } }, bar);
      const status = h('p', { class: 'muted', dataset: { testid: 'export-status' } }, t('cam.exportHint'));
      const go = h('button', { type: 'button', class: 'btn btn-primary', dataset: { testid: 'export-download' },
        onclick: () => download() }, icon(ICONS.download), t('cam.download'));
      const cancel = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => st.download?.abort() },
        t('common.cancel'));
      const link = h('a', { class: 'btn', hidden: true, dataset: { testid: 'export-link' } }, t('cam.saveAgain'));
      // Keep this clip (admins): the selected range is protected from retention, with a note.
      const note = h('input', { type: 'text', maxlength: 500, dataset: { testid: 'keep-note' } });
      const keep = h('button', { type: 'button', class: 'btn', dataset: { testid: 'keep-range' },
        onclick: () => keepRange(note, status) }, t('cam.keep'));
      const keepRow = ctx.me?.role === 'admin'
        ? h('div', { class: 'export-row' }, h('label', {}, t('cam.keepNote'), note), keep) : null;
      const box = h('section', { class: 'export card', hidden: true, dataset: { testid: 'export' } },
        h('h2', {}, t('cam.exportTitle')),
        h('div', { class: 'export-row' }, h('label', {}, t('cam.from'), from), h('label', {}, t('cam.to'), to), go, cancel, link),
        keepRow, progress, status);
      Object.assign(box, { from, to, bar, progress, status, go, cancel, link });
      return box;
    }

    async function keepRange(note, status) {
      const r = st.range;
      if (!r || !(r.end > r.start)) return;
      try {
        await api('/api/protected', { method: 'POST', body: { camera: name, start: new Date(r.start).toISOString(),
          end: new Date(r.end).toISOString(), note: note.value } });
        status.textContent = t('cam.kept');
        note.value = '';
      } catch (e) {
        status.textContent = e.message;
      }
    }

    function toggleExport(show = exportBox.hidden) {
      exportBox.hidden = !show;
      exportBtn.classList.toggle('on', show);
      if (show) {
        const c = st.mode === 'live' ? Date.now() - 30e3 : st.cursor;
        setRange({ start: c - 30e3, end: Math.min(Date.now(), c + 30e3) }, false);
      } else {
        tl.setRange(null);
      }
    }

    function setRange(r, fromTimeline) {
      st.range = { start: Math.min(r.start, r.end), end: Math.max(r.start, r.end) };
      exportBox.from.value = toLocalInput(st.range.start);
      exportBox.to.value = toLocalInput(st.range.end);
      if (!fromTimeline) tl.setRange(st.range);
    }

    function fromInputs() {
      const s = new Date(exportBox.from.value).getTime();
      const e = new Date(exportBox.to.value).getTime();
      if (Number.isFinite(s) && Number.isFinite(e)) {
        st.range = { start: s, end: e };
        tl.setRange(e > s ? st.range : null);
      }
    }

    async function download() {
      const box = exportBox;
      const r = st.range;
      if (!r || r.end <= r.start) { box.status.textContent = t('cam.badRange'); return; }
      const ctl = new AbortController();
      st.download = ctl;
      box.go.disabled = true;
      box.cancel.hidden = false;
      box.link.hidden = true;
      box.progress.hidden = false;
      box.bar.style.width = '0';
      box.status.dataset.state = 'busy';
      const file = exportName(name, r.start);
      try {
        const resp = await api(`/api/cameras/${enc}/video.mp4?start=${encodeURIComponent(new Date(r.start).toISOString())}&end=${encodeURIComponent(new Date(r.end).toISOString())}&download=1`,
          { raw: true, signal: ctl.signal });
        const total = Number(resp.headers.get('content-length')) || 0;
        const reader = resp.body.getReader();
        const parts = [];
        let done = 0;
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          parts.push(value);
          done += value.length;
          box.bar.style.width = total ? `${Math.min(100, (done / total) * 100).toFixed(1)}%` : '50%';
          box.status.textContent = t('cam.downloading', { done: fmt.bytes(done), total: total ? fmt.bytes(total) : '?' });
        }
        box.bar.style.width = '100%';
        const blob = new Blob(parts, { type: 'video/mp4' });
        if (box.link.href) URL.revokeObjectURL(box.link.href);
        box.link.href = URL.createObjectURL(blob);
        box.link.download = file;
        box.link.hidden = false;
        box.link.click();
        box.status.textContent = t('cam.downloaded', { file, size: fmt.bytes(blob.size) });
        box.status.dataset.state = 'done';
      } catch (e) {
        box.status.textContent = e.name === 'AbortError' ? '' : e.message;
        box.status.dataset.state = 'failed';
        box.progress.hidden = true;
      } finally {
        st.download = null;
        box.go.disabled = false;
        box.cancel.hidden = true;
      }
    }

    // --- start ---------------------------------------------------------------------------------------------
    applyMute();
    // Keys: space plays/pauses, arrows are the timeline's (when focused), f is full screen, l is live.
    const onKey = (e) => {
      if (e.target.closest('input, select, textarea, button, [role=slider]') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === ' ') { e.preventDefault(); togglePlay(); }
      else if (e.key === 'f') fullBtn.click();
      else if (e.key === 'l') goLive();
    };
    document.addEventListener('keydown', onKey);
    const startAt = params[1] ? Date.parse(params[1]) : NaN;
    if (Number.isFinite(startAt)) {
      tl.setView(startAt - 10 * 60e3, startAt + 5 * 60e3);
      playAt(startAt);
    } else {
      goLive();
    }
    const liveTimer = setInterval(tickLive, 1000);
    const refresh = setInterval(async () => {
      loadData(tl.start, tl.end);
      try {
        const c = (await api('/api/cameras')).find((x) => x.name === name);
        if (c) paintBadges(c);
      } catch (_) { /* loadData above shows the failure */ }
    }, 10000);
    paintControls();

    return () => {
      st.left = true;
      ptzBox?.stop();
      document.removeEventListener('keydown', onKey);
      clearInterval(liveTimer);
      clearInterval(refresh);
      st.download?.abort();
      stopLive();
      stopRecorded();
      tl.destroy();
      if (exportBox.link.href) URL.revokeObjectURL(exportBox.link.href);
    };
  },
};
