// events.js — the events list (#/events): what happened, newest first, each with its best frame, filtered
// by camera, kind, object label and time. Labels (what object detection saw) show as badges; the picture
// of a labelled event already carries the boxes (drawn by the server, so alerts show them too). A click plays
// the recording from the event's start minus the pre-roll, in the camera view. Admins can keep an event's
// video from retention ("Keep", with a note: POST /api/protected); kept events carry a badge. Why it pages
// with "load more" instead of an endless list: a phone must stay fast with
// months of events; the API answers newest first, so the next page is everything before the oldest shown.

import { PRE_ROLL } from './camera.js';

const PAGE = 60;
const KINDS = ['motion', 'camera-motion', 'camera-offline', 'storage'];
const LABELS = ['person', 'car', 'dog', 'cat', 'bird'];

const strings = {
  en: {
    'ev.title': 'Events',
    'ev.camera': 'Camera',
    'ev.kind': 'Kind',
    'ev.from': 'From',
    'ev.to': 'To',
    'ev.apply': 'Show',
    'ev.reset': 'Reset',
    'ev.none': 'No events match.',
    'ev.more': 'Show older',
    'ev.ongoing': 'going on',
    'ev.score': 'score {s}',
    'ev.offsite': 'copied off-site: {list}',
    'ev.noPicture': 'no picture',
    'ev.k.motion': 'Motion',
    'ev.k.camera-motion': 'Camera motion',
    'ev.k.camera-offline': 'Camera offline',
    'ev.k.storage': 'Storage',
    'ev.keep': 'Keep',
    'ev.kept': 'Kept',
    'ev.keepNote': 'Note (optional)',
    'ev.label': 'Object',
    'ev.l.person': 'Person',
    'ev.l.car': 'Vehicle',
    'ev.l.dog': 'Dog',
    'ev.l.cat': 'Cat',
    'ev.l.bird': 'Bird',
  },
  de: {
    'ev.title': 'Ereignisse',
    'ev.camera': 'Kamera',
    'ev.kind': 'Art',
    'ev.from': 'Von',
    'ev.to': 'Bis',
    'ev.apply': 'Anzeigen',
    'ev.reset': 'Zurücksetzen',
    'ev.none': 'Keine passenden Ereignisse.',
    'ev.more': 'Ältere anzeigen',
    'ev.ongoing': 'läuft',
    'ev.score': 'Stärke {s}',
    'ev.offsite': 'extern gesichert: {list}',
    'ev.noPicture': 'kein Bild',
    'ev.k.motion': 'Bewegung',
    'ev.k.camera-motion': 'Kamera-Bewegung',
    'ev.k.camera-offline': 'Kamera offline',
    'ev.k.storage': 'Speicher',
    'ev.keep': 'Behalten',
    'ev.kept': 'Behalten',
    'ev.keepNote': 'Notiz (optional)',
    'ev.label': 'Objekt',
    'ev.l.person': 'Person',
    'ev.l.car': 'Fahrzeug',
    'ev.l.dog': 'Hund',
    'ev.l.cat': 'Katze',
    'ev.l.bird': 'Vogel',
  },
};

export default {
  path: 'events',
  nav: 'nav.events',
  admin: false,
  strings,
  async render(el, ctx) {
    const { h, t, api, fmt } = ctx;
    let saved = {};
    try { saved = JSON.parse(sessionStorage.getItem('kw.evfilter') || '{}') || {}; } catch (_) { /* start unfiltered */ }
    const camSel = h('select', { dataset: { testid: 'ev-camera' } },
      h('option', { value: '' }, t('common.all')),
      (ctx.me.cameras || []).map((c) => h('option', { value: c, selected: saved.camera === c }, c)));
    const kindSel = h('select', { dataset: { testid: 'ev-kind' } },
      h('option', { value: '' }, t('common.all')),
      KINDS.map((k) => h('option', { value: k, selected: saved.kind === k }, t(`ev.k.${k}`))));
    const labelSel = h('select', { dataset: { testid: 'ev-label' } },
      h('option', { value: '' }, t('common.all')),
      LABELS.map((l) => h('option', { value: l, selected: saved.label === l }, t(`ev.l.${l}`))));
    const from = h('input', { type: 'datetime-local', value: saved.from || '', dataset: { testid: 'ev-from' } });
    const to = h('input', { type: 'datetime-local', value: saved.to || '', dataset: { testid: 'ev-to' } });
    const list = h('div', { class: 'ev-list', dataset: { testid: 'events' } });
    const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load(false) }, t('ev.more'));
    const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(true); } },
      h('label', {}, t('ev.camera'), camSel),
      h('label', {}, t('ev.kind'), kindSel),
      h('label', {}, t('ev.label'), labelSel),
      h('label', {}, t('ev.from'), from),
      h('label', {}, t('ev.to'), to),
      h('button', { class: 'btn btn-primary', type: 'submit', dataset: { testid: 'ev-apply' } }, t('ev.apply')),
      h('button', { class: 'btn', type: 'button', onclick: () => {
        camSel.value = ''; kindSel.value = ''; labelSel.value = ''; from.value = ''; to.value = '';
        load(true);
      } }, t('ev.reset')));
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('ev.title'))), form, list, h('div', { class: 'more' }, more));
    for (const x of [camSel, kindSel, labelSel]) x.addEventListener('change', () => load(true));

    let oldest = null;
    let seq = 0;
    const admin = ctx.me?.role === 'admin';
    // Event ids already kept (from GET /api/protected), so their cards say so.
    let kept = new Set();

    function keepBox(e) {
      const wrap = h('div', { class: 'ev-keep' });
      const done = () => wrap.replaceChildren(h('span', { class: 'badge badge-info', dataset: { testid: 'ev-kept' } }, t('ev.kept')));
      if (kept.has(e.id)) { done(); return wrap; }
      if (!admin || !e.camera) return null;
      const note = h('input', { type: 'text', maxlength: 500, placeholder: t('ev.keepNote'), dataset: { testid: 'ev-keep-note' } });
      const err = h('span', { class: 'form-error', role: 'alert' });
      wrap.append(note, h('button', { type: 'button', class: 'btn', dataset: { testid: 'ev-keep' }, onclick: async () => {
        try {
          await api('/api/protected', { method: 'POST', body: { event: e.id, note: note.value } });
          kept.add(e.id);
          done();
        } catch (x) { err.textContent = x.message; }
      } }, t('ev.keep')), err);
      return wrap;
    }

    function card(e) {
      const start = Date.parse(e.start);
      const end = e.end ? Date.parse(e.end) : null;
      const thumb = h('div', { class: 'ev-thumb' });
      if (e.snapshot) {
        thumb.append(h('img', { src: e.snapshot, alt: '', loading: 'lazy', decoding: 'async', dataset: { testid: 'ev-thumb' } }));
        if (e.region && !(e.labels && e.labels.length)) {
          const [x, y, w, hh] = e.region;
          thumb.append(h('span', { class: 'ev-region', style: { left: `${x * 100}%`, top: `${y * 100}%`,
            width: `${w * 100}%`, height: `${hh * 100}%` } }));
        }
      } else {
        thumb.append(h('span', { class: 'player-msg' }, t('ev.noPicture')));
      }
      const playable = e.camera && e.kind !== 'storage';
      const keep = keepBox(e);
      const button = h('button', { type: 'button', class: 'ev card', disabled: !playable,
        dataset: { testid: 'event', id: String(e.id), camera: e.camera, start: e.start },
        onclick: () => ctx.go(`#/camera/${encodeURIComponent(e.camera)}/${new Date(start - PRE_ROLL).toISOString()}`) },
      thumb,
      h('div', { class: 'ev-body' },
        h('div', { class: 'ev-title' }, h('span', {}, e.camera || t('ev.k.storage')),
          h('span', { class: `badge ${e.kind === 'motion' ? 'badge-warn' : e.kind === 'camera-offline' ? 'badge-offline' : 'badge-info'}` },
            t(`ev.k.${e.kind}`)),
          (e.labels || []).map((l) => h('span', { class: 'badge badge-label', dataset: { testid: 'ev-label-badge', label: l.label } },
            `${LABELS.includes(l.label) ? t(`ev.l.${l.label}`) : l.label} ${Math.round(l.score * 100)}%`))),
        h('div', { class: 'ev-meta', dataset: { testid: 'ev-time' } }, fmt.dateTime(start)),
        h('div', { class: 'ev-meta' }, end === null ? t('ev.ongoing') : fmt.duration((end - start) / 1000),
          ' · ', fmt.relative(start), e.kind === 'motion' ? ` · ${t('ev.score', { s: Math.round(e.score * 100) })}` : ''),
        e.offsite && e.offsite.length
          ? h('div', { class: 'ev-meta', dataset: { testid: 'ev-offsite' } },
            h('span', { class: 'badge badge-info' }, t('ev.offsite', { list: e.offsite.join(', ') })))
          : null));
      return keep ? h('div', { class: 'ev-wrap card' }, button, keep) : button;
    }

    async function load(fresh) {
      const my = ++seq;
      sessionStorage.setItem('kw.evfilter', JSON.stringify({ camera: camSel.value, kind: kindSel.value,
        label: labelSel.value, from: from.value, to: to.value }));
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (camSel.value) q.set('camera', camSel.value);
      if (kindSel.value) q.set('kind', kindSel.value);
      if (labelSel.value) q.set('label', labelSel.value);
      if (from.value) q.set('start', new Date(from.value).toISOString());
      let end = to.value ? new Date(to.value).getTime() : null;
      if (!fresh && oldest !== null) end = end === null ? oldest : Math.min(end, oldest);
      if (end !== null) q.set('end', new Date(end).toISOString());
      let events;
      try {
        events = await api(`/api/events?${q}`);
      } catch (e) {
        if (my === seq) list.replaceChildren(h('p', { class: 'notice notice-error' }, e.message));
        return;
      }
      if (my !== seq) return;
      try {
        kept = new Set((await api('/api/protected')).filter((p) => p.event != null).map((p) => p.event));
      } catch (_) { /* the list still shows; only the badges are missing */ }
      if (my !== seq) return;
      if (fresh) list.replaceChildren();
      for (const e of events) list.append(card(e));
      if (events.length) oldest = Date.parse(events[events.length - 1].start);
      more.hidden = events.length < PAGE;
      if (!list.children.length) list.append(h('p', { class: 'muted', dataset: { testid: 'ev-none' } }, t('ev.none')));
    }

    await load(true);
    // New events appear by themselves while the newest page is on screen and the user is at the top.
    const timer = setInterval(() => {
      if (!from.value && !to.value && window.scrollY < 40 && list.querySelectorAll('.ev').length <= PAGE) load(true);
    }, 15000);
    return () => clearInterval(timer);
  },
};
