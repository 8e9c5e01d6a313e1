// system.js — the system page (#/system, every signed-in user): how full the storage is, how far back
// recordings go, whether each camera is healthy, and which version runs.
//
// Why it is shaped this way:
// - GET /api/system is open to every signed-in user (a viewer gets the cameras it may see and no store
//   path), so this page is not admin-only: "is it still recording, and how far back?" is everybody's
//   question.
// - The bar is measured against the store's cap (`[storage] max_size`) when there is one, else against the
//   disk (used + free), because that is the limit retention will enforce first; the free space on the disk
//   is shown either way, since a full disk stops recording regardless of the cap.
// - "Oldest recording: 12 days ago" is relative (Intl, in the chosen language) with the exact time as a
//   tooltip. The page refreshes itself every 10 s while open.
// - It looks like the settings pages (admin.css's cards and badges) but imports nothing from admin/: a viewer
//   page never imports an admin module (docs/ui-shape.md).

import { h } from './dom.js';

const strings = {
  en: {
    'sys.title': 'System',
    'sys.storage': 'Storage',
    'sys.used': 'Used: {used}',
    'sys.ofCap': '{used} of {cap} (the store’s limit)',
    'sys.ofDisk': '{used} of {total} on the disk',
    'sys.free': 'Free on the disk: {free}',
    'sys.freeUnknown': 'Free on the disk: unknown',
    'sys.path': 'Location: {path}',
    'sys.protected': 'Kept from retention: {bytes}',
    'sys.oldest': 'Oldest recording: {when}',
    'sys.oldestNone': 'Oldest recording: none yet',
    'sys.cameras': 'Cameras',
    'sys.noCameras': 'No cameras.',
    'sys.healthy': 'healthy',
    'sys.status.streaming': 'streaming',
    'sys.status.connecting': 'connecting',
    'sys.status.offline': 'offline',
    'sys.lastError': 'Last error: {error}',
    'sys.version': 'keepwatch {version}',
  },
  de: {
    'sys.title': 'System',
    'sys.storage': 'Speicher',
    'sys.used': 'Belegt: {used}',
    'sys.ofCap': '{used} von {cap} (Grenze des Speichers)',
    'sys.ofDisk': '{used} von {total} auf dem Datenträger',
    'sys.free': 'Frei auf dem Datenträger: {free}',
    'sys.freeUnknown': 'Frei auf dem Datenträger: unbekannt',
    'sys.path': 'Ort: {path}',
    'sys.protected': 'Vor dem Löschen geschützt: {bytes}',
    'sys.oldest': 'Älteste Aufnahme: {when}',
    'sys.oldestNone': 'Älteste Aufnahme: noch keine',
    'sys.cameras': 'Kameras',
    'sys.noCameras': 'Keine Kameras.',
    'sys.healthy': 'in Ordnung',
    'sys.status.streaming': 'verbunden',
    'sys.status.connecting': 'verbindet',
    'sys.status.offline': 'offline',
    'sys.lastError': 'Letzter Fehler: {error}',
    'sys.version': 'keepwatch {version}',
  },
};

function storageSection(ctx, s) {
  const { t, fmt } = ctx;
  const used = s.used_bytes || 0;
  const total = s.max_size || (s.free_bytes != null ? used + s.free_bytes : null);
  const share = total ? Math.min(1, used / total) : 0;
  const level = share > 0.95 ? 'bad' : share > 0.8 ? 'warn' : '';
  const label = s.max_size ? t('sys.ofCap', { used: fmt.bytes(used), cap: fmt.bytes(s.max_size) })
    : total ? t('sys.ofDisk', { used: fmt.bytes(used), total: fmt.bytes(total) }) : t('sys.used', { used: fmt.bytes(used) });
  const oldest = s.oldest
    ? h('div', { 'data-testid': 'sys-oldest', title: fmt.dateTime(s.oldest) }, t('sys.oldest', { when: fmt.relative(s.oldest) }))
    : h('div', { 'data-testid': 'sys-oldest' }, t('sys.oldestNone'));
  return h('section', { class: 'adm-card', 'data-testid': 'sys-storage' },
    h('h3', null, t('sys.storage')),
    h('div', { 'data-testid': 'sys-used' }, label),
    total ? h('div', { class: 'adm-meter', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100,
      'aria-valuenow': Math.round(share * 100), 'aria-label': label },
    // A sliver at least, so a store that has just started still shows a bar that is not empty.
    h('div', { class: level, style: `width:${Math.max(share * 100, used > 0 ? 0.8 : 0).toFixed(1)}%` })) : null,
    h('div', { 'data-testid': 'sys-free' },
      s.free_bytes != null ? t('sys.free', { free: fmt.bytes(s.free_bytes) }) : t('sys.freeUnknown')),
    oldest,
    h('div', { 'data-testid': 'sys-protected' }, t('sys.protected', { bytes: fmt.bytes(s.protected_bytes || 0) })),
    s.pressure ? h('div', { class: 'adm-err', role: 'alert', 'data-testid': 'sys-pressure' }, s.pressure) : null,
    s.path ? h('div', { class: 'adm-muted' }, t('sys.path', { path: s.path })) : null);
}

function camerasSection(ctx, cams) {
  const { t } = ctx;
  const rows = cams.map((c) => {
    const cls = c.status === 'streaming' ? 'ok' : c.status === 'offline' ? 'bad' : 'warn';
    const key = `sys.status.${c.status}`;
    return h('div', { class: 'adm-card', 'data-testid': `sys-camera-${c.name}` },
      h('div', { class: 'adm-row' }, h('strong', null, c.name),
        h('span', { class: `adm-badge ${cls}` }, t(key) === key ? c.status : t(key))),
      c.last_error ? h('div', { class: c.status === 'streaming' ? 'adm-muted' : 'adm-err' },
        t('sys.lastError', { error: c.last_error })) : null);
  });
  return h('section', { class: 'adm-form', 'data-testid': 'sys-cameras' },
    h('h3', null, t('sys.cameras')),
    rows.length ? h('div', { class: 'adm-list' }, rows) : h('p', { class: 'adm-muted' }, t('sys.noCameras')));
}

export default {
  path: 'system',
  nav: 'nav.system',
  admin: false,
  strings,
  async render(root, ctx) {
    const { t } = ctx;
    const host = h('div', { class: 'adm', 'data-testid': 'page-system' });
    // A failed refresh keeps the last picture and says so above it.
    const stale = h('p', { class: 'adm adm-err', role: 'status', 'data-testid': 'sys-stale' });
    root.append(stale, host);
    const paint = (info) => {
      stale.textContent = '';
      host.replaceChildren(
        h('h2', null, t('sys.title')),
        storageSection(ctx, info.storage || {}),
        camerasSection(ctx, info.cameras || []),
        h('p', { class: 'adm-muted', 'data-testid': 'sys-version' }, t('sys.version', { version: info.version })));
    };
    paint(await ctx.api('/api/system'));
    let busy = false;
    const timer = setInterval(async () => {
      if (busy || document.hidden) return;
      busy = true;
      try { paint(await ctx.api('/api/system')); } catch (e) { stale.textContent = t('err.refresh', { msg: e.message }); }
      busy = false;
    }, 10000);
    return () => clearInterval(timer);
  },
};
