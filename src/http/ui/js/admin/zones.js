// admin/zones.js — the motion-zone editor of the camera form (admin/cameras.js): polygons drawn on a real
// picture of the camera, each named and marked include or exclude.
//
// Why it is shaped this way:
// - Zones are drawn on what the camera sees (the probe's first frame, else its latest snapshot), with an SVG
//   over the <img>. The SVG's viewBox is the picture's own aspect (1000 × 1000·h/w) so circles stay round.
// - Points are 0..1 of the picture's width and height, rounded to 1/1000: what the config stores, whatever
//   the resolution.
// - Clicks add points (a click on the first point, or "Close polygon", closes it); corners of closed zones are
//   handles that can be dragged with mouse, pen or finger.

import { h, svg } from '../dom.js';
import { t } from '../i18n.js';

// The server's caps (kw_config::Zone::MAX_PER_CAMERA and MAX_POINTS; a Rust test keeps them equal): the
// editor stops at them instead of letting a user draw what the save would refuse.
export const MAX_ZONES = 16;
export const MAX_POINTS = 64;

/** The editor's strings; the camera page spreads them into its own. */
export const zoneStrings = {
  en: {
    'cams.zones': 'Motion zones',
    'cams.zones.hint': 'Click or tap on the picture to add points, then close the polygon; drag a corner to move it. Include zones limit detection to their area; exclude zones ignore theirs.',
    'cams.zones.noPicture': 'Test the connection to get a picture to draw on.',
    'cams.zones.new': 'Draw a zone',
    'cams.zones.close': 'Close polygon',
    'cams.zones.undo': 'Undo point',
    'cams.zones.cancel': 'Stop drawing',
    'cams.zones.drawing': 'Drawing: {n} points (at least 3)',
    'cams.zones.none': 'No zones: the whole picture counts.',
    'cams.zones.name': 'Zone name',
    'cams.zones.include': 'Include',
    'cams.zones.exclude': 'Exclude',
    'cams.zones.kind': 'Zone kind',
    'cams.zones.delete': 'Delete zone',
    'cams.zones.full': 'At most {n} zones per camera: delete one to draw another.',
    'cams.zones.maxPoints': 'At most {n} points per zone: close the polygon.',
  },
  de: {
    'cams.zones': 'Bewegungszonen',
    'cams.zones.hint': 'Tippen oder klicken Sie auf das Bild, um Punkte zu setzen, und schließen Sie dann das Vieleck; ziehen Sie eine Ecke, um sie zu verschieben. Einschlusszonen beschränken die Erkennung auf ihre Fläche, Ausschlusszonen blenden ihre Fläche aus.',
    'cams.zones.noPicture': 'Testen Sie die Verbindung, um ein Bild zum Zeichnen zu erhalten.',
    'cams.zones.new': 'Zone zeichnen',
    'cams.zones.close': 'Vieleck schließen',
    'cams.zones.undo': 'Punkt zurücknehmen',
    'cams.zones.cancel': 'Zeichnen beenden',
    'cams.zones.drawing': 'Zeichnen: {n} Punkte (mindestens 3)',
    'cams.zones.none': 'Keine Zonen: das ganze Bild zählt.',
    'cams.zones.name': 'Name der Zone',
    'cams.zones.include': 'Einschließen',
    'cams.zones.exclude': 'Ausschließen',
    'cams.zones.kind': 'Art der Zone',
    'cams.zones.delete': 'Zone löschen',
    'cams.zones.full': 'Höchstens {n} Zonen pro Kamera: löschen Sie eine, um eine weitere zu zeichnen.',
    'cams.zones.maxPoints': 'Höchstens {n} Punkte pro Zone: schließen Sie das Vieleck.',
  },
};

/** How often and how far apart the editor asks again for a snapshot that failed. */
const PICTURE_RETRIES = 10;
const PICTURE_RETRY_MS = 1500;

/**
 * The editor for `zones` (the config's `[{name, kind, points}]`, edited in place) over `picture` (a URL, or
 * null until setPicture()) of `size` ([w, h], or null: the picture's natural size). Answers `node`,
 * `setPicture(src, size)` and `zones()`.
 */
export function zoneEditor(zones, picture, size) {
  let drawing = null; // points of the polygon being drawn, or null
  let vw = 1000;
  let vh = size ? Math.round((1000 * size[1]) / size[0]) : 563;

  const img = h('img', { alt: '', 'data-testid': 'zone-picture' });
  const placeholder = h('div', { class: 'adm-placeholder' }, t('cams.zones.noPicture'));
  const surface = svg('svg', { 'data-testid': 'zone-svg', viewBox: `0 0 ${vw} ${vh}`, preserveAspectRatio: 'none' });
  const stage = h('div', { class: 'adm-zones', 'data-testid': 'zone-editor' }, img, placeholder, surface);
  stage.style.aspectRatio = `${vw} / ${vh}`;
  const status = h('div', { class: 'adm-muted', 'data-testid': 'zone-status' });
  const list = h('div', { class: 'adm-form', 'data-testid': 'zone-list' });
  const full = () => zones.length >= MAX_ZONES;
  const newBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'zone-new',
    onclick: () => { if (!full()) drawing = []; redraw(); } },
    t('cams.zones.new'));
  const closeBtn = h('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'zone-close', onclick: () => closePolygon() },
    t('cams.zones.close'));
  const undoBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'zone-undo',
    onclick: () => { drawing?.pop(); redraw(); } }, t('cams.zones.undo'));
  const cancelBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'zone-cancel', onclick: () => { drawing = null; redraw(); } },
    t('cams.zones.cancel'));

  // A camera that has just restarted (after a save) has no picture for a few seconds: its snapshot is asked
  // for again, a bounded number of times, while the editor is on the page.
  let pictureTry = 0;
  function setPicture(src, sz) {
    if (!src) return;
    const mine = ++pictureTry;
    let tries = 0;
    img.onload = () => {
      const w = sz ? sz[0] : img.naturalWidth;
      const ht = sz ? sz[1] : img.naturalHeight;
      if (w > 0 && ht > 0) {
        vh = Math.round((1000 * ht) / w);
        surface.setAttribute('viewBox', `0 0 ${vw} ${vh}`);
        stage.style.aspectRatio = `${vw} / ${vh}`;
        redraw();
      }
      placeholder.hidden = true;
    };
    img.onerror = () => {
      placeholder.hidden = false;
      if (src.startsWith('data:') || tries >= PICTURE_RETRIES) return;
      tries += 1;
      setTimeout(() => {
        if (mine !== pictureTry || (tries > 1 && !stage.isConnected)) return;
        img.src = `${src}${src.includes('?') ? '&' : '?'}retry=${tries}`;
      }, PICTURE_RETRY_MS);
    };
    img.src = src;
  }

  const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

  // Corners of finished zones are handles: drag one to move it (mouse, pen or finger). The click that ends a
  // drag must not start a new polygon.
  let drag = null;
  let dragged = false;
  surface.addEventListener('pointerdown', (ev) => {
    const handle = ev.target.closest?.('[data-handle]');
    dragged = false;
    if (!handle || drawing) return;
    const [zi, pi] = handle.dataset.handle.split(':').map(Number);
    drag = { zi, pi };
    surface.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
  });
  surface.addEventListener('pointermove', (ev) => {
    if (!drag || !zones[drag.zi]) return;
    const r = surface.getBoundingClientRect();
    zones[drag.zi].points[drag.pi] = [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
    dragged = true;
    redraw();
  });
  const endDrag = () => { drag = null; };
  surface.addEventListener('pointerup', endDrag);
  surface.addEventListener('pointercancel', endDrag);

  surface.addEventListener('click', (ev) => {
    if (dragged || ev.target.closest?.('[data-handle]')) { dragged = false; return; }
    if (!drawing && full()) { redraw(); return; }
    if (!drawing) drawing = [];
    const r = surface.getBoundingClientRect();
    const p = [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
    // A click on the first point closes the polygon.
    if (drawing.length >= 3) {
      const [fx, fy] = drawing[0];
      if (Math.hypot((fx - p[0]) * r.width, (fy - p[1]) * r.height) < 14) { closePolygon(); return; }
    }
    if (drawing.length < MAX_POINTS) drawing.push(p);
    redraw();
  });

  function closePolygon() {
    if (!drawing || drawing.length < 3 || full()) return;
    let n = zones.length + 1;
    while (zones.some((z) => z.name === `zone-${n}`)) n++;
    zones.push({ name: `zone-${n}`, kind: 'include', points: drawing });
    drawing = null;
    redraw();
    list.querySelector('.adm-zone-row:last-child input')?.focus();
  }

  const colour = (kind) => (kind === 'exclude' ? '#e55' : '#3c9');
  const pts = (points) => points.map(([x, y]) => `${x * vw},${y * vh}`).join(' ');

  function redraw() {
    surface.replaceChildren();
    zones.forEach((z, i) => {
      surface.append(svg('polygon', { points: pts(z.points), fill: colour(z.kind), 'fill-opacity': 0.3,
        stroke: colour(z.kind), 'stroke-width': 3, 'vector-effect': 'non-scaling-stroke', 'data-zone': i }));
    });
    if (!drawing) {
      zones.forEach((z, i) => z.points.forEach(([x, y], j) => surface.append(svg('circle', { cx: x * vw, cy: y * vh,
        r: 10, fill: '#fff', 'fill-opacity': 0.85, stroke: colour(z.kind), 'stroke-width': 3,
        'vector-effect': 'non-scaling-stroke', class: 'adm-handle', 'data-handle': `${i}:${j}`,
        'data-testid': `zone-handle-${i}-${j}` }))));
    }
    if (drawing) {
      if (drawing.length > 1) {
        surface.append(svg('polyline', { points: pts(drawing), fill: 'none', stroke: '#fd3', 'stroke-width': 3,
          'stroke-dasharray': '6 4', 'vector-effect': 'non-scaling-stroke' }));
      }
      drawing.forEach(([x, y], i) => surface.append(svg('circle', { cx: x * vw, cy: y * vh, r: i === 0 ? 12 : 8,
        fill: i === 0 ? '#fd3' : '#fff', stroke: '#000', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' })));
    }
    if (drawing) {
      status.textContent = drawing.length >= MAX_POINTS ? t('cams.zones.maxPoints', { n: MAX_POINTS })
        : t('cams.zones.drawing', { n: drawing.length });
    } else {
      status.textContent = full() ? t('cams.zones.full', { n: MAX_ZONES }) : '';
    }
    newBtn.disabled = full();
    closeBtn.hidden = !drawing;
    closeBtn.disabled = !drawing || drawing.length < 3;
    undoBtn.hidden = !drawing;
    cancelBtn.hidden = !drawing;
    newBtn.hidden = !!drawing;
    renderList();
  }

  function renderList() {
    if (!zones.length) {
      list.replaceChildren(h('div', { class: 'adm-muted' }, t('cams.zones.none')));
      return;
    }
    list.replaceChildren(...zones.map((z, i) => {
      const kind = h('select', { 'data-testid': `zone-kind-${i}`, 'aria-label': t('cams.zones.kind'),
        onchange: () => { z.kind = kind.value; redraw(); } },
      h('option', { value: 'include' }, t('cams.zones.include')),
      h('option', { value: 'exclude' }, t('cams.zones.exclude')));
      kind.value = z.kind;
      return h('div', { class: 'adm-zone-row', 'data-testid': `zone-row-${i}` },
        h('span', { class: 'adm-swatch', style: `background:${colour(z.kind)}` }),
        h('input', { value: z.name, 'aria-label': t('cams.zones.name'), 'data-testid': `zone-name-${i}`,
          oninput: (ev) => { z.name = ev.target.value; } }),
        kind,
        h('button', { type: 'button', class: 'btn adm-danger', 'data-testid': `zone-delete-${i}`,
          onclick: () => { zones.splice(i, 1); redraw(); } }, t('cams.zones.delete')));
    }));
  }

  setPicture(picture, size);
  redraw();
  const node = h('div', { class: 'adm-form' },
    h('div', { class: 'adm-muted' }, t('cams.zones.hint')),
    stage, status,
    h('div', { class: 'adm-actions' }, newBtn, closeBtn, undoBtn, cancelBtn),
    list);
  return { node, setPicture, zones: () => zones };
}

