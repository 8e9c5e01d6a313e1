// app.js — the shell: login page, top bar (nav, alert mode in one tap, language, sign out) and the hash
// router that mounts one page module at a time (docs/ui-shape.md). Why here and not in the pages: the
// session (who am I, CSRF token, expiry), the role rule (admin pages are neither listed nor rendered for
// viewers) and the language switch are the same for every page.

import { ctx, api, toast, setCsrf, ApiError } from './core.js';
import { h, svg } from './dom.js';
import { t, addStrings, initialLang, setLang, lang, LANGS } from './i18n.js';
import pages from './pages.js';

const root = document.getElementById('app');
let current = null; // { page, cleanup, el }
let mode = null;
let started = false;

for (const p of pages) addStrings(p.strings);

/** The page for a hash like '#/camera/front-door': the longest matching path wins; rest are params. */
function resolve(hash) {
  const path = hash.replace(/^#\/?/, '').split('?')[0];
  const parts = path.split('/').filter(Boolean);
  let best = null;
  for (const p of pages) {
    const pp = p.path.split('/');
    if (pp.length <= parts.length && pp.every((s, i) => s === parts[i]) && (!best || pp.length > best.len)) {
      best = { page: p, len: pp.length };
    }
  }
  if (!best) return { page: null, params: parts };
  return { page: best.page, params: parts.slice(best.len).map(decodeURIComponent) };
}

function isAdmin() {
  return ctx.me?.role === 'admin';
}

// ---------------------------------------------------------------------------------------------------------
// Login

function showLogin(message) {
  leavePage();
  document.body.classList.add('logged-out');
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true,
    dataset: { testid: 'login-user' } });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, dataset: { testid: 'login-password' } });
  const err = h('p', { class: 'form-error', role: 'alert', dataset: { testid: 'login-error' } }, message || '');
  const button = h('button', { class: 'btn btn-primary', type: 'submit', dataset: { testid: 'login-submit' } },
    t('login.submit'));
  const form = h('form', { class: 'login card', onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    err.textContent = '';
    try {
      const r = await api('/api/login', { method: 'POST', body: { username: user.value, password: pw.value } });
      setCsrf(r.csrf_token);
      await start();
    } catch (ex) {
      if (ex.status === 401) err.textContent = t('login.failed');
      else if (ex.status === 429) err.textContent = t('login.limited', { s: (ex.message.match(/\d+/) || ['60'])[0] });
      else err.textContent = ex.message;
      button.disabled = false;
    }
  } },
  h('div', { class: 'login-brand' }, logo(), h('span', {}, t('app.name'))),
  h('h1', {}, t('login.title')),
  h('label', { for: 'login-user' }, t('login.user')), user,
  h('label', { for: 'login-password' }, t('login.password')), pw,
  err, button,
  h('div', { class: 'login-lang' }, langSwitch(() => showLogin(err.textContent))));
  root.replaceChildren(h('div', { class: 'login-wrap' }, form));
  user.focus();
}

function logo() {
  return svg('svg', { viewBox: '0 0 24 24', width: '22', height: '22', class: 'logo', 'aria-hidden': 'true' },
    svg('circle', { cx: '12', cy: '12', r: '9', fill: 'none', stroke: 'currentColor', 'stroke-width': '2' }),
    svg('circle', { cx: '12', cy: '12', r: '3.5', fill: 'currentColor' }));
}

// ---------------------------------------------------------------------------------------------------------
// Top bar

function logoutIcon() {
  return svg('svg', { viewBox: '0 0 24 24', width: '18', height: '18', 'aria-hidden': 'true' },
    svg('path', { fill: 'currentColor',
      d: 'M10 17l1.4-1.4-2.6-2.6H20v-2H8.8l2.6-2.6L10 7l-5 5zM4 5h7V3H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h7v-2H4z' }));
}

function langSwitch(onChange) {
  const sel = h('select', { class: 'lang-select', 'aria-label': t('lang.label'), dataset: { testid: 'lang' },
    onchange: () => { setLang(sel.value, true); onChange(); } },
  LANGS.map((l) => h('option', { value: l, selected: l === lang() }, l.toUpperCase())));
  return sel;
}

function modeSwitch() {
  const box = h('div', { class: 'mode-switch', role: 'radiogroup', 'aria-label': t('mode.label'),
    dataset: { testid: 'mode' } });
  const paint = () => {
    for (const b of box.children) b.setAttribute('aria-checked', String(b.dataset.mode === mode));
  };
  for (const m of ['home', 'away', 'off']) {
    box.append(h('button', { type: 'button', role: 'radio', class: `mode-btn mode-${m}`, title: t('mode.label'),
      dataset: { mode: m, testid: `mode-${m}` }, onclick: async () => {
        const before = mode;
        mode = m;
        paint();
        try {
          const r = await api('/api/mode', { method: 'PUT', body: { mode: m } });
          mode = r.mode;
          toast(t('mode.set', { mode: t(`mode.${mode}`) }), 'ok');
          window.dispatchEvent(new CustomEvent('kw:mode', { detail: mode, bubbles: false }));
        } catch (e) {
          mode = before;
          toast(e.message, 'error');
        }
        paint();
      } }, t(`mode.${m}`)));
  }
  paint();
  // Other pages (the alerts page) change the mode too and announce it; follow them. The listener goes with
  // the box, which is rebuilt on every page change.
  const follow = (ev) => {
    if (!box.isConnected) { window.removeEventListener('kw:mode', follow); return; }
    if (ev.detail && ev.detail !== mode) { mode = ev.detail; paint(); }
  };
  window.addEventListener('kw:mode', follow);
  return box;
}

function renderBar() {
  const { page: active } = resolve(location.hash);
  const nav = h('nav', { class: 'nav', 'aria-label': t('nav.menu') },
    pages.filter((p) => p.nav && (!p.admin || isAdmin())).map((p) =>
      h('a', { href: `#/${p.path}`, class: p === active ? 'active' : null, 'aria-current': p === active ? 'page' : null,
        dataset: { testid: `nav-${p.path.replace(/\//g, '-')}` } }, t(p.nav))));
  const bar = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/live' }, logo(), h('span', { class: 'brand-name' }, t('app.name'))),
    nav,
    h('div', { class: 'bar-tools' },
      modeSwitch(),
      langSwitch(() => { renderBar(); route(true); }),
      h('button', { class: 'btn btn-ghost logout', type: 'button', title: `${t('logout')} (${ctx.me.user})`,
        'aria-label': t('logout'), dataset: { testid: 'logout' }, onclick: logout }, logoutIcon(),
      h('span', { class: 'logout-text' }, t('logout')))));
  const old = document.querySelector('header.topbar');
  if (old) old.replaceWith(bar);
  else document.body.prepend(bar);
}

/** Forgets everything the session left in this tab: the CSRF token, who we are, the mode, saved filters. */
function clearSession() {
  setCsrf('');
  ctx.me = null;
  mode = null;
  sessionStorage.removeItem('kw.evfilter');
  document.querySelector('header.topbar')?.remove();
}

async function logout() {
  leavePage();
  try { await api('/api/logout', { method: 'POST' }); } catch (_) { /* gone anyway */ }
  clearSession();
  showLogin('');
}

// ---------------------------------------------------------------------------------------------------------
// Router

function leavePage() {
  if (current?.cleanup) {
    try { current.cleanup(); } catch (e) { console.error(e); }
  }
  current = null;
}

let routeSeq = 0;

function notAllowed(text) {
  return h('div', { class: 'notice notice-denied', dataset: { testid: 'not-allowed' } },
    h('h1', {}, t('err.notAllowed')), text ? h('p', {}, text) : null);
}

async function route(force = false) {
  if (!ctx.me) return;
  if (!location.hash || location.hash === '#' || location.hash === '#/') {
    location.replace('#/live');
    return;
  }
  const { page, params } = resolve(location.hash);
  const key = location.hash;
  if (!force && current && current.key === key) return;
  leavePage();
  const seq = ++routeSeq;
  renderBar();
  const el = h('main', { class: 'page', id: 'page' });
  root.replaceChildren(el);
  document.title = page?.nav ? `${t(page.nav)} · ${t('app.name')}` : t('app.name');
  if (!page) {
    el.append(h('div', { class: 'notice' }, h('h1', {}, t('err.notFound'))));
    current = { key };
    return;
  }
  if (page.admin && !isAdmin()) {
    el.append(notAllowed(t('err.notAllowedText')));
    current = { key };
    return;
  }
  const entry = { key, page };
  current = entry;
  try {
    const cleanup = await page.render(el, ctx, params);
    if (seq !== routeSeq || current !== entry) { if (typeof cleanup === 'function') cleanup(); return; }
    entry.cleanup = typeof cleanup === 'function' ? cleanup : null;
  } catch (e) {
    if (seq !== routeSeq) return;
    if (e instanceof ApiError && e.status === 401) return; // the login page is on its way
    if (e instanceof ApiError && e.status === 403) {
      // Rights changed under us (a camera no longer granted, the role taken away): say so plainly.
      el.replaceChildren(notAllowed());
      return;
    }
    console.error(e);
    el.append(h('div', { class: 'notice notice-error' }, t('err.failed', { msg: e.message }),
      h('button', { class: 'btn', onclick: () => route(true) }, t('common.retry'))));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Start

async function start() {
  let me;
  try {
    me = await api('/api/me');
  } catch (e) {
    if (e.status === 401) { showLogin(started ? t('login.expired') : ''); return; }
    root.replaceChildren(h('div', { class: 'notice notice-error' }, e.message,
      h('button', { class: 'btn', onclick: start }, t('common.retry'))));
    return;
  }
  if (me.csrf_token) setCsrf(me.csrf_token);
  ctx.me = me;
  started = true;
  document.body.classList.remove('logged-out');
  try { mode = (await api('/api/mode')).mode; } catch (_) { mode = null; }
  await route(true);
}

window.addEventListener('hashchange', () => route());
window.addEventListener('kw:expired', () => {
  if (!ctx.me) return;
  clearSession();
  showLogin(t('login.expired'));
});

setLang(initialLang(document.documentElement.dataset.serverLang));
start();
