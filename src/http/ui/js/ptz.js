// ptz.js — pan/tilt/zoom controls of the camera view for ONVIF cameras with the PTZ service: a drag pad
// (moves while pressed, speed by how far from the middle; stops on release), arrow and zoom buttons that
// move while held, the keyboard arrows (and +/-) while the pad has focus, home, and presets (go to, save
// the current position, delete).
//
// Why it is shaped this way:
// - GET /api/cameras/{name}/presets answers 404 for a camera without PTZ: then nothing is shown at all.
// - A move lasts 10 s on the camera unless repeated, so a lost "stop" (a closed tab) never turns a camera
//   forever; while held, the move is sent again every 4 s and whenever the direction changes (throttled).
// - Moving needs an admin or the `ptz` grant; a refusal is shown in the box, in the user's words.

import { h } from './dom.js';

export const ptzStrings = {
  en: {
    'ptz.title': 'Pan, tilt, zoom',
    'ptz.pad': 'Drag to move the camera (arrow keys while focused)',
    'ptz.up': 'Up', 'ptz.down': 'Down', 'ptz.left': 'Left', 'ptz.right': 'Right',
    'ptz.zoomIn': 'Zoom in', 'ptz.zoomOut': 'Zoom out', 'ptz.home': 'Home',
    'ptz.presets': 'Presets', 'ptz.go': 'Go', 'ptz.save': 'Save current', 'ptz.delete': 'Delete',
    'ptz.presetName': 'Name of the new preset', 'ptz.noPresets': 'No presets',
  },
  de: {
    'ptz.title': 'Schwenken, Neigen, Zoomen',
    'ptz.pad': 'Ziehen, um die Kamera zu bewegen (Pfeiltasten, wenn ausgewählt)',
    'ptz.up': 'Hoch', 'ptz.down': 'Runter', 'ptz.left': 'Links', 'ptz.right': 'Rechts',
    'ptz.zoomIn': 'Hineinzoomen', 'ptz.zoomOut': 'Herauszoomen', 'ptz.home': 'Grundstellung',
    'ptz.presets': 'Positionen', 'ptz.go': 'Anfahren', 'ptz.save': 'Aktuelle speichern', 'ptz.delete': 'Löschen',
    'ptz.presetName': 'Name der neuen Position', 'ptz.noPresets': 'Keine Positionen',
  },
};

const RESEND_MS = 4000;
const THROTTLE_MS = 150;

/** The PTZ box for camera `name`, or null when it has no PTZ. `ctx` gives t() and api(). */
export async function ptzControls(ctx, name) {
  const { t, api } = ctx;
  const base = `/api/cameras/${encodeURIComponent(name)}`;
  let presets;
  try {
    presets = await api(`${base}/presets`);
  } catch (_) {
    return null;
  }
  const status = h('p', { class: 'muted', role: 'status', dataset: { testid: 'ptz-status' } });
  const send = async (body) => {
    try {
      await api(`${base}/ptz`, { method: 'POST', body });
      status.textContent = '';
      return true;
    } catch (e) {
      status.textContent = e.message;
      return false;
    }
  };

  // One move at a time: `hold(v)` starts or changes it, `release()` stops it.
  let held = null;
  let timer = null;
  let lastSent = 0;
  let pending = null;
  const sendMove = () => { lastSent = Date.now(); pending = null; send({ move: held }); };
  function hold(v) {
    const changed = !held || held.x !== v.x || held.y !== v.y || held.zoom !== v.zoom;
    held = v;
    if (!timer) timer = setInterval(() => held && sendMove(), RESEND_MS);
    if (!changed) return;
    const wait = THROTTLE_MS - (Date.now() - lastSent);
    if (wait <= 0) sendMove();
    else if (!pending) pending = setTimeout(() => held && sendMove(), wait);
  }
  function release() {
    if (!held) return;
    held = null;
    clearInterval(timer);
    clearTimeout(pending);
    timer = null;
    pending = null;
    send({ stop: true });
  }

  const round = (v) => Math.round(v * 100) / 100;
  const pad = h('div', { class: 'ptz-pad', tabindex: 0, role: 'application', 'aria-label': t('ptz.pad'), title: t('ptz.pad'),
    dataset: { testid: 'ptz-pad' } }, h('span', { class: 'ptz-dot' }));
  const fromPointer = (e) => {
    const r = pad.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * 2 - 1;
    const y = 1 - ((e.clientY - r.top) / r.height) * 2;
    hold({ x: round(Math.max(-1, Math.min(1, x))), y: round(Math.max(-1, Math.min(1, y))), zoom: 0 });
  };
  pad.addEventListener('pointerdown', (e) => { e.preventDefault(); pad.setPointerCapture(e.pointerId); fromPointer(e); });
  pad.addEventListener('pointermove', (e) => { if (held && pad.hasPointerCapture(e.pointerId)) fromPointer(e); });
  for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) pad.addEventListener(ev, release);
  const KEYS = { ArrowUp: { x: 0, y: 0.5, zoom: 0 }, ArrowDown: { x: 0, y: -0.5, zoom: 0 },
    ArrowLeft: { x: -0.5, y: 0, zoom: 0 }, ArrowRight: { x: 0.5, y: 0, zoom: 0 },
    '+': { x: 0, y: 0, zoom: 0.5 }, '-': { x: 0, y: 0, zoom: -0.5 } };
  pad.addEventListener('keydown', (e) => {
    const v = KEYS[e.key];
    if (!v) return;
    e.preventDefault();
    e.stopPropagation();
    if (!e.repeat) hold(v);
  });
  pad.addEventListener('keyup', (e) => { if (KEYS[e.key]) { e.preventDefault(); release(); } });
  pad.addEventListener('blur', release);

  /** A button that moves at `v` while pressed. */
  const holdButton = (label, testid, text, v) => {
    const b = h('button', { type: 'button', class: 'btn btn-icon', title: label, 'aria-label': label, dataset: { testid } }, text);
    b.addEventListener('pointerdown', (e) => { e.preventDefault(); b.setPointerCapture(e.pointerId); hold(v); });
    for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) b.addEventListener(ev, release);
    return b;
  };
  const buttons = h('div', { class: 'ptz-buttons' },
    holdButton(t('ptz.up'), 'ptz-up', '▲', { x: 0, y: 0.5, zoom: 0 }),
    holdButton(t('ptz.left'), 'ptz-left', '◀', { x: -0.5, y: 0, zoom: 0 }),
    holdButton(t('ptz.right'), 'ptz-right', '▶', { x: 0.5, y: 0, zoom: 0 }),
    holdButton(t('ptz.down'), 'ptz-down', '▼', { x: 0, y: -0.5, zoom: 0 }),
    holdButton(t('ptz.zoomIn'), 'ptz-zoom-in', '+', { x: 0, y: 0, zoom: 0.5 }),
    holdButton(t('ptz.zoomOut'), 'ptz-zoom-out', '−', { x: 0, y: 0, zoom: -0.5 }),
    h('button', { type: 'button', class: 'btn', dataset: { testid: 'ptz-home' }, onclick: () => send({ home: true }) }, t('ptz.home')));

  // Presets.
  const sel = h('select', { dataset: { testid: 'ptz-presets' }, 'aria-label': t('ptz.presets') });
  const paintPresets = () => {
    sel.replaceChildren(...(presets.length ? presets.map((p) => h('option', { value: p.token }, p.name))
      : [h('option', { value: '' }, t('ptz.noPresets'))]));
  };
  paintPresets();
  const reload = async () => {
    try { presets = await api(`${base}/presets`); paintPresets(); } catch (e) { status.textContent = e.message; }
  };
  const nameIn = h('input', { type: 'text', maxlength: 64, placeholder: t('ptz.presetName'), dataset: { testid: 'ptz-preset-name' } });
  const presetRow = h('div', { class: 'export-row' },
    sel,
    h('button', { type: 'button', class: 'btn', dataset: { testid: 'ptz-goto' },
      onclick: () => sel.value && send({ preset: sel.value }) }, t('ptz.go')),
    h('button', { type: 'button', class: 'btn', dataset: { testid: 'ptz-delete' }, onclick: async () => {
      if (!sel.value) return;
      try {
        await api(`${base}/presets`, { method: 'DELETE', body: { token: sel.value } });
        await reload();
      } catch (e) { status.textContent = e.message; }
    } }, t('ptz.delete')),
    nameIn,
    h('button', { type: 'button', class: 'btn', dataset: { testid: 'ptz-save' }, onclick: async () => {
      if (!nameIn.value.trim()) { nameIn.focus(); return; }
      try {
        await api(`${base}/presets`, { method: 'POST', body: { name: nameIn.value.trim() } });
        nameIn.value = '';
        await reload();
      } catch (e) { status.textContent = e.message; }
    } }, t('ptz.save')));

  const box = h('section', { class: 'ptz card', dataset: { testid: 'ptz' } },
    h('h2', {}, t('ptz.title')), h('div', { class: 'ptz-row' }, pad, buttons), presetRow, status);
  box.stop = release;
  return box;
}
