// core.js — the context every page gets (docs/ui-shape.md): the API client (cookies, CSRF token, errors as
// ApiError, session expiry noticed in one place), translation and Intl formatting in the chosen language,
// the DOM builder (from dom.js) and toasts. Kept free of page knowledge so the viewer and admin pages share it.

import { t, lang, locale } from './i18n.js';
import { h, svg } from './dom.js';

/** An API answer that was not 2xx: `status` (0 for a network failure) and the server's message. */
export class ApiError extends Error {
  constructor(status, message, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    // The request field a 400 is about (`motion.sensitivity`), so a form can mark it.
    this.field = field;
  }
}

let csrf = sessionStorage.getItem('kw.csrf') || '';

/** Remembers the CSRF token (from the login answer or /api/me) for the rest of the tab's life. */
export function setCsrf(token) {
  csrf = token || '';
  if (csrf) sessionStorage.setItem('kw.csrf', csrf);
  else sessionStorage.removeItem('kw.csrf');
}

/**
 * Calls the API. `body` (not FormData/Blob) is sent as JSON; non-GET requests carry X-CSRF-Token. Answers
 * the parsed JSON (null for 204), or the Response itself with `raw: true`. A 401 outside /api/login means
 * the session has ended: the shell is told (event `kw:expired`) and shows the login page.
 */
export async function api(path, { method = 'GET', body, raw = false, headers = {}, signal } = {}) {
  const hdrs = { ...headers };
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob) && typeof body !== 'string') {
    hdrs['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) hdrs['x-csrf-token'] = csrf;
  let r;
  try {
    r = await fetch(path, { method, headers: hdrs, body: payload, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, t('err.network'));
  }
  if (!r.ok) {
    let message = r.statusText || String(r.status);
    let field = null;
    let said = false; // the server explained itself (JSON `error`)
    try {
      const j = await r.clone().json();
      if (j && j.error) { message = j.error; said = true; }
      if (j && j.field) field = j.field;
    } catch (_) { /* not JSON */ }
    // 403 always reads "Not allowed" in the user's language, with the server's reason after it.
    if (r.status === 403) message = said ? `${t('err.notAllowed')}: ${message}` : t('err.notAllowed');
    if (r.status === 401 && path !== '/api/login') {
      window.dispatchEvent(new CustomEvent('kw:expired'));
    }
    throw new ApiError(r.status, message, field);
  }
  if (raw) return r;
  if (r.status === 204) return null;
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

/** A short message at the bottom of the screen; kind: 'info' | 'ok' | 'error'. */
export function toast(msg, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, msg);
  box.append(el);
  setTimeout(() => el.classList.add('toast-out'), kind === 'error' ? 6000 : 3000);
  setTimeout(() => el.remove(), kind === 'error' ? 6500 : 3500);
}

/** Dates and times with Intl in the chosen language (and the browser's time zone). */
export const fmt = {
  dateTime(d) {
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(d));
  },
  date(d) {
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(new Date(d));
  },
  time(d) {
    return new Intl.DateTimeFormat(locale(), { timeStyle: 'medium' }).format(new Date(d));
  },
  /** A short day ("27 Nov" / "27. Nov."), for midnight on the timeline. */
  day(d) {
    return new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'short' }).format(new Date(d));
  },
  /** hh:mm only (timeline ticks). */
  clock(d) {
    return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(new Date(d));
  },
  /** "12 days ago" / "vor 12 Tagen", "in 3 minutes". */
  relative(d) {
    const diff = (new Date(d).getTime() - Date.now()) / 1000;
    const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600],
      ['minute', 60], ['second', 1]];
    for (const [unit, secs] of units) {
      if (Math.abs(diff) >= secs || unit === 'second') return rtf.format(Math.round(diff / secs), unit);
    }
    return '';
  },
  /** A length of time: "1:05", "1:02:03" (seconds in). */
  duration(secs) {
    const s = Math.max(0, Math.round(secs));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
  },
  bytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: i ? 1 : 0 }).format(n)} ${units[i]}`;
  },
};

/** Navigates to a hash route ('#/camera/x' or 'camera/x'). */
export function go(hash) {
  const target = hash.startsWith('#') ? hash : `#/${hash.replace(/^\//, '')}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** RFC 3339 (UTC) for a Date or ms since the epoch, as the API wants it. */
export function iso(d) {
  return new Date(d).toISOString();
}

/** The context handed to every page's render(); `me` is filled in by the shell after login. `h` and `svg` are
 * dom.js's builder. */
export const ctx = { api, t, h, svg, fmt, go, toast, iso, me: null, lang };
