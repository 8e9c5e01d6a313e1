// i18n.js — English and German strings and the language choice. Why one small module: every visible string
// goes through t(), pages bring their own strings (merged at start, keys prefixed by the page), and the
// language is chosen once (localStorage, else the browser, else the server's [server] language) and can be
// switched from the top bar without a reload.

export const LANGS = ['en', 'de'];

const dict = {
  en: {
    'app.name': 'keepwatch',
    'nav.live': 'Live',
    'nav.events': 'Events',
    'nav.cameras': 'Cameras',
    'nav.alerts': 'Alerts',
    'nav.users': 'Users',
    'nav.system': 'System',
    'nav.menu': 'Menu',
    'login.title': 'Sign in',
    'login.user': 'User name',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.expired': 'Your session has ended. Please sign in again.',
    'login.failed': 'Wrong user name or password.',
    'login.limited': 'Too many attempts. Try again in {s} s.',
    'logout': 'Sign out',
    'mode.label': 'Alerts',
    'mode.home': 'Home',
    'mode.away': 'Away',
    'mode.off': 'Off',
    'mode.set': 'Alert mode: {mode}',
    'lang.label': 'Language',
    'err.network': 'The server cannot be reached.',
    'err.notAllowed': 'Not allowed',
    'err.notAllowedText': 'This page is for administrators.',
    'err.notFound': 'Page not found',
    'err.failed': 'Something went wrong: {msg}',
    'err.refresh': 'Cannot update: {msg}',
    'common.loading': 'Loading…',
    'common.retry': 'Retry',
    'common.close': 'Close',
    'common.cancel': 'Cancel',
    'common.save': 'Save',
    'common.delete': 'Delete',
    'common.none': 'Nothing here yet.',
    'common.all': 'All',
    'user.role.admin': 'admin',
    'user.role.viewer': 'viewer',
  },
  de: {
    'app.name': 'keepwatch',
    'nav.live': 'Live',
    'nav.events': 'Ereignisse',
    'nav.cameras': 'Kameras',
    'nav.alerts': 'Alarme',
    'nav.users': 'Benutzer',
    'nav.system': 'System',
    'nav.menu': 'Menü',
    'login.title': 'Anmelden',
    'login.user': 'Benutzername',
    'login.password': 'Passwort',
    'login.submit': 'Anmelden',
    'login.expired': 'Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.',
    'login.failed': 'Benutzername oder Passwort falsch.',
    'login.limited': 'Zu viele Versuche. Bitte in {s} s erneut versuchen.',
    'logout': 'Abmelden',
    'mode.label': 'Alarme',
    'mode.home': 'Zuhause',
    'mode.away': 'Abwesend',
    'mode.off': 'Aus',
    'mode.set': 'Alarmmodus: {mode}',
    'lang.label': 'Sprache',
    'err.network': 'Der Server ist nicht erreichbar.',
    'err.notAllowed': 'Nicht erlaubt',
    'err.notAllowedText': 'Diese Seite ist Administratoren vorbehalten.',
    'err.notFound': 'Seite nicht gefunden',
    'err.failed': 'Etwas ist schiefgegangen: {msg}',
    'err.refresh': 'Aktualisierung nicht möglich: {msg}',
    'common.loading': 'Wird geladen …',
    'common.retry': 'Erneut versuchen',
    'common.close': 'Schließen',
    'common.cancel': 'Abbrechen',
    'common.save': 'Speichern',
    'common.delete': 'Löschen',
    'common.none': 'Noch nichts vorhanden.',
    'common.all': 'Alle',
    'user.role.admin': 'Admin',
    'user.role.viewer': 'Betrachter',
  },
};

let current = 'en';

/** Merges a page's `strings: {en: {...}, de: {...}}`. */
export function addStrings(strings) {
  for (const l of LANGS) Object.assign(dict[l], strings?.[l] || {});
}

/** The language to start with: stored choice, else the browser's, else the server's default, else English. */
export function initialLang(serverDefault) {
  const stored = localStorage.getItem('lang');
  if (LANGS.includes(stored)) return stored;
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = String(l).toLowerCase().slice(0, 2);
    if (LANGS.includes(base)) return base;
  }
  return LANGS.includes(serverDefault) ? serverDefault : 'en';
}

/** Switches the language (stored when `remember`); sets `<html lang>`. */
export function setLang(l, remember = false) {
  current = LANGS.includes(l) ? l : 'en';
  document.documentElement.lang = current;
  if (remember) localStorage.setItem('lang', current);
}

export function lang() {
  return current;
}

/** The Intl locale for the language: the browser's own regional variant when it matches (en-GB, de-AT). */
export function locale() {
  for (const l of navigator.languages || []) {
    if (String(l).toLowerCase().startsWith(current)) return l;
  }
  return current === 'de' ? 'de-DE' : 'en';
}

/** Translates `key`, filling `{name}` placeholders from `vars`; falls back to English, then the key. */
export function t(key, vars) {
  let s = dict[current][key] ?? dict.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}
