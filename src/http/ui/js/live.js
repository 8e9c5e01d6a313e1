// live.js — the live grid (#/live), the page most people open: every camera the user may see, playing at
// once (the sub-stream where the camera has one, so a dozen tiles stay cheap), with its state on top
// (REC, offline and why). A tile opens the camera view. Statuses refresh every 5 s without restarting
// the players.

import { LivePlayer, playerStrings } from './player.js';

const strings = {
  en: {
    ...playerStrings.en,
    'live.title': 'Live',
    'live.none': 'No cameras to show.',
    'live.noneAdmin': 'No cameras yet. Add one under Cameras.',
    'live.rec': 'REC',
    'live.offline': 'Offline',
    'live.connecting': 'Connecting',
    'live.open': 'Open {name}',
  },
  de: {
    ...playerStrings.de,
    'live.title': 'Live',
    'live.none': 'Keine Kameras vorhanden.',
    'live.noneAdmin': 'Noch keine Kameras. Unter „Kameras“ hinzufügen.',
    'live.rec': 'REC',
    'live.offline': 'Offline',
    'live.connecting': 'Verbinde',
    'live.open': '{name} öffnen',
  },
};

/** Badges for a camera's state: [[class, text]]. */
export function stateBadges(cam, t) {
  if (cam.status === 'offline') return [['badge-offline', t('live.offline')]];
  if (cam.status === 'connecting') return [['badge-warn', t('live.connecting')]];
  return cam.recording ? [['badge-rec', t('live.rec')]] : [];
}

export default {
  path: 'live',
  nav: 'nav.live',
  admin: false,
  strings,
  async render(el, ctx) {
    const { h, t, api } = ctx;
    const cams = await api('/api/cameras');
    el.append(h('h1', { class: 'sr-only' }, t('live.title')));
    if (!cams.length) {
      el.append(h('div', { class: 'notice' }, t(ctx.me.role === 'admin' ? 'live.noneAdmin' : 'live.none')));
      return null;
    }
    // Few cameras get big tiles that still fit the screen's height (see .grid[data-n] in app.css).
    const grid = h('div', { class: 'grid', dataset: { testid: 'grid', n: String(Math.min(cams.length, 5)) } });
    // A failed status refresh is said above the grid (the players keep going on their own).
    const stale = h('p', { class: 'notice notice-error', role: 'status', hidden: true, dataset: { testid: 'live-stale' } });
    el.append(stale, grid);
    const tiles = new Map();
    for (const cam of cams) {
      const media = h('div', { class: 'tile-media' });
      const err = h('div', { class: 'tile-error', dataset: { testid: 'tile-error' } });
      const tile = h('button', { type: 'button', class: 'tile card', 'aria-label': t('live.open', { name: cam.name }),
        dataset: { testid: `tile-${cam.name}`, camera: cam.name }, onclick: () => ctx.go(`#/camera/${encodeURIComponent(cam.name)}`) },
      media, h('div', { class: 'tile-foot' }, h('span', { class: 'tile-name' }, cam.name)), err);
      grid.append(tile);
      const player = new LivePlayer(media, cam, { sub: true, t });
      player.start();
      tiles.set(cam.name, { player, err });
      paint(cam);
    }
    function paint(cam) {
      const tile = tiles.get(cam.name);
      if (!tile) return;
      tile.player.setBadges(stateBadges(cam, t));
      tile.err.textContent = cam.status !== 'streaming' && cam.last_error ? cam.last_error : '';
      tile.err.hidden = !tile.err.textContent;
    }
    const timer = setInterval(async () => {
      try {
        (await api('/api/cameras')).forEach(paint);
        stale.hidden = true;
      } catch (e) {
        stale.textContent = t('err.refresh', { msg: e.message });
        stale.hidden = false;
      }
    }, 5000);
    return () => {
      clearInterval(timer);
      for (const { player } of tiles.values()) player.stop();
    };
  },
};
