// admin/forms.js — the settings pages' form kit, one copy of each piece the admin pages (cameras, alerts,
// users, and the ones to come) build their forms and lists from: labelled fields with a place for their
// error, write-only secret fields, check boxes and fieldsets, a submit flow that puts the API's 400 next to
// the field it names, delete buttons that ask first, and the box that shows the answer of a "test" button.
//
// Why it is shaped this way:
// - The server owns the rules (config validation, kw-auth's names and lengths); a form shows the server's
//   message where it belongs instead of guessing the rules twice. A 400 names its field (`field` in the
//   answer, passed on by the API client as ApiError.field, and at the start of the message); every field
//   built here has an error slot `data-err=KEY` (and `data-testid=err-KEY`) for it.
// - Secrets (passwords, tokens, keys) are write-only: the server only says whether one is stored, an empty
//   field keeps it, a check box removes it.
// - "Are you sure" is an inline box, not confirm(): that blocks, looks foreign on phones and cannot be
//   translated.
// - Only the admin pages import this (docs/ui-shape.md: viewer pages never import an admin module); its
//   strings come with it as `formStrings`, merged into each admin page's own strings.
// Styles are the `adm-*` classes of admin.css.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { toast } from '../core.js';

/** The strings of the pieces below; admin pages spread them into their `strings` (`...formStrings.en`). */
export const formStrings = {
  en: {
    'form.yes': 'Yes',
    'form.no': 'No',
    'form.secretStored': 'stored — leave empty to keep it',
  },
  de: {
    'form.yes': 'Ja',
    'form.no': 'Nein',
    'form.secretStored': 'gespeichert – leer lassen, um es zu behalten',
  },
};

// ---------------------------------------------------------------------------------------------------------
// Fields

/** A labelled form field: label text, the control, an optional hint, and the slot for its error
 * (`data-err=errKey`, `data-testid=err-errKey`), which showFieldError() and setFieldError() fill. */
export function field(label, control, hint, errKey) {
  return h('label', { class: 'adm-field' },
    h('span', null, label), control, hint ? h('small', null, hint) : null,
    h('div', { class: 'adm-err', 'data-err': errKey || '', 'data-testid': errKey ? `err-${errKey}` : null }));
}

/** A text input for names, addresses and durations: no autocomplete, capitals or spell check. `attrs` adds
 * to or overrides these (`type`, `placeholder`, `required`...). */
export function textInput(testid, value, attrs) {
  return h('input', { 'data-testid': testid, value: value ?? '', autocomplete: 'off', autocapitalize: 'off',
    spellcheck: 'false', ...attrs });
}

/** A check box; `checkLabel()` puts it in front of its text. */
export function checkbox(testid, checked, attrs) {
  return h('input', { type: 'checkbox', 'data-testid': testid, checked: !!checked, ...attrs });
}

/** A control (a check box) followed by its text, on one line. */
export function checkLabel(control, text) {
  return h('label', { class: 'adm-check' }, control, text);
}

/** A drop-down of `[value, text]` pairs with `value` selected. */
export function select(testid, choices, value, attrs) {
  return h('select', { 'data-testid': testid, value, ...attrs },
    choices.map(([v, text]) => h('option', { value: v }, text)));
}

/** A labelled group of controls (not a <label>: it holds several check boxes) with its error slot. */
export function group(label, node, errKey) {
  return h('div', { class: 'adm-field' }, h('span', null, label), node,
    h('div', { class: 'adm-err', 'data-err': errKey, 'data-testid': `err-${errKey}` }));
}

/** Check boxes for `all` values (test ids `prefix-VALUE`), ticked where `chosen` (null: none ticked = all)
 * has them; `value()` answers the ticked ones, or null when none is. */
export function checks(prefix, all, chosen, label = (v) => v) {
  const boxes = all.map((v) => [v, checkbox(`${prefix}-${v}`, !!chosen && chosen.includes(v))]);
  return {
    node: h('div', { class: 'adm-checks' }, boxes.map(([v, b]) => checkLabel(b, label(v)))),
    value: () => { const on = boxes.filter(([, b]) => b.checked).map(([v]) => v); return on.length ? on : null; },
  };
}

/** A group of fields with a heading (`<fieldset>` + `<legend>`). */
export function fieldset(legend, ...children) {
  return h('fieldset', null, h('legend', null, legend), children);
}

/**
 * A write-only secret (a camera password, later an SMTP password or an API key). The server never sends it
 * back, only whether one is stored (`isSet`); then the field says so and a check box (`clearLabel`) offers to
 * remove it.
 * - `field`: the labelled input (test id `testid`, error slot `errKey`); `clear`: the "remove" check box line
 *   (test id `testid-clear`), or null when nothing is stored.
 * - `value()`: what to send: the new secret, '' (remove the stored one) or undefined (leave the key out:
 *   keep what is stored).
 * - `keepsStored()`: true when a stored secret is kept (so a test may ask the server to use it).
 */
export function secretField({ label, testid, errKey, isSet, clearLabel, storedHint = t('form.secretStored') }) {
  const input = textInput(testid, '', { type: 'password', autocomplete: 'new-password', placeholder: isSet ? storedHint : '' });
  const clearBox = checkbox(`${testid}-clear`, false);
  return {
    input,
    field: field(label, input, isSet ? storedHint : null, errKey),
    clear: isSet ? checkLabel(clearBox, clearLabel) : null,
    value: () => (input.value ? input.value : isSet && clearBox.checked ? '' : undefined),
    keepsStored: () => !!isSet && !input.value && !clearBox.checked,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Errors

/** The place above a form for an error that names no field. */
export function formError(testid) {
  return h('div', { class: 'adm-err', role: 'alert', 'data-testid': testid });
}

/** Empties every error slot of `form`. */
export function clearErrors(form) {
  form.querySelectorAll('.adm-err').forEach((n) => { n.textContent = ''; });
}

/** Puts `message` into the error slot `key` (a check of the page's own, before asking the server). */
export function setFieldError(form, key, message) {
  const slot = form.querySelector(`[data-err="${key}"]`);
  if (slot) slot.textContent = message;
}

/** Scrolls `node` to the middle of the screen unless all of it is already in view. */
export function reveal(node) {
  const r = node?.getBoundingClientRect();
  if (r && (r.top < 0 || r.bottom > window.innerHeight)) node.scrollIntoView({ block: 'center' });
}

/** Scrolls the first error slot of `form` that says something into view. */
export function revealFirstError(form) {
  form.querySelector('.adm-err:not(:empty)')?.scrollIntoView({ block: 'center' });
}

/** Puts a server error next to the field it names (`{"error": "max_age: ...", "field": "max_age"}` → the
 * max_age field's error line); returns false when no field on the form matches, so the caller shows it at
 * the top. */
export function showFieldError(form, message, fieldName) {
  const keys = [...form.querySelectorAll('[data-err]')].map((n) => n.dataset.err).filter(Boolean);
  // The server names the field in its answer (`field`, when the API client passes it on) and always at the
  // start of the message ("max_age: ..."); the message is the fallback.
  const direct = fieldName && (keys.find((k) => k === fieldName)
    || keys.find((k) => fieldName.split(/[.[]/).includes(k)));
  if (direct) {
    const slot = form.querySelector(`[data-err="${direct}"]`);
    slot.textContent = message;
    slot.closest('.adm-field, fieldset')?.scrollIntoView({ block: 'center' });
    return true;
  }
  // Longest names first, so `sub_url` wins over `url` and `motion.sensitivity` over nothing.
  keys.sort((a, b) => b.length - a.length);
  const lower = String(message).toLowerCase();
  let best = null;
  let bestAt = Infinity;
  for (const k of keys) {
    const alts = [k, k.replace(/_/g, ' '), k.split('.').pop()];
    for (const a of alts) {
      const m = new RegExp(`(^|[^a-z_])${a.replace(/[.]/g, '\\.')}($|[^a-z_])`).exec(lower);
      if (m && m.index < bestAt) { best = k; bestAt = m.index; }
    }
  }
  if (!best) return false;
  const slot = form.querySelector(`[data-err="${best}"]`);
  slot.textContent = message;
  slot.closest('.adm-field, fieldset')?.scrollIntoView({ block: 'center' });
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Buttons and the submit flow

/** The form's main button (type=submit). */
export function submitButton(label, testid) {
  return h('button', { type: 'submit', class: 'btn btn-primary adm-primary', 'data-testid': testid }, label);
}

/**
 * Handles `form`'s submit: clears its errors; runs `check()` (the page's own checks: false stops, after
 * setFieldError() said why); disables `button` (showing `busyLabel` when given) while `send()` runs; a failure
 * goes next to the field it names (`fieldOf(error)`, by default the API's `field`), else into `errorBox`.
 * `send()` does the request and whatever follows success (a toast, a reload).
 */
export function onSubmit(form, { button, busyLabel, errorBox, check, send, fieldOf = (e) => e.field }) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (check && !check()) { revealFirstError(form); return; }
    const label = button.textContent;
    button.disabled = true;
    if (busyLabel) button.textContent = busyLabel;
    try {
      await send();
    } catch (e) {
      if (!showFieldError(form, e.message, fieldOf(e))) {
        errorBox.textContent = e.message;
        reveal(errorBox);
      }
    } finally {
      button.disabled = false;
      if (busyLabel) button.textContent = label;
    }
  });
}

/** Shows an inline "are you sure" box at the top of `host`; resolves true on yes. */
export function confirmInline(host, message, testid) {
  return new Promise((resolve) => {
    host.querySelectorAll(':scope > .adm-confirm').forEach((n) => n.remove());
    const done = (v) => { box.remove(); resolve(v); };
    const box = h('div', { class: 'adm-confirm', role: 'alertdialog', 'data-testid': testid || 'confirm' },
      h('div', null, message),
      h('div', { class: 'adm-actions' },
        h('button', { type: 'button', class: 'btn adm-danger', 'data-testid': 'confirm-yes', onclick: () => done(true) },
          t('form.yes')),
        h('button', { type: 'button', class: 'btn', 'data-testid': 'confirm-no', onclick: () => done(false) }, t('form.no'))));
    host.prepend(box);
    box.scrollIntoView({ block: 'nearest' });
    box.querySelector('button').focus();
  });
}

/**
 * A red button that removes something: asks `question` inline at the top of its card (the nearest
 * `.adm-card`), then runs `action()` (the request, a toast, a reload); a failure is an error toast.
 */
export function deleteButton(label, testid, question, action) {
  const btn = h('button', { type: 'button', class: 'btn adm-danger', 'data-testid': testid, onclick: async () => {
    if (!(await confirmInline(btn.closest('.adm-card') || btn.parentNode, question))) return;
    try {
      await action();
    } catch (e) {
      toast(e.message, 'error');
    }
  } }, label);
  return btn;
}

/** A plain button that runs `action()`, disabled until it is done (a "test" button). */
export function actionButton(label, testid, action) {
  const btn = h('button', { type: 'button', class: 'btn', 'data-testid': testid, onclick: async () => {
    btn.disabled = true;
    try {
      await action();
    } finally {
      btn.disabled = false;
    }
  } }, label);
  return btn;
}

// ---------------------------------------------------------------------------------------------------------
// Showing what a test found

/**
 * The box under a "test connection" button: `busy(text)` while it runs, then `ok(...children)` (what was
 * found; null children are skipped) or `fail(headline, detail, kind)` (a big localized headline, role=alert, with the server's exact
 * message under it). Test ids: `${prefix}-result` on the box (with data-ok="true|false" once answered),
 * `${prefix}-error` (with data-kind) and `${prefix}-detail` on a failure.
 */
export function testResult(prefix) {
  const box = h('div', { 'data-testid': `${prefix}-result`, 'aria-live': 'polite' });
  return {
    node: box,
    busy(text) {
      box.className = 'adm-probe';
      box.replaceChildren(h('div', { class: 'adm-muted' }, text));
    },
    ok(...children) {
      box.className = 'adm-probe ok';
      box.dataset.ok = 'true';
      // Like h(): null/false children are left out (replaceChildren would write "null").
      box.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    },
    fail(headline, detail, kind) {
      box.className = 'adm-probe bad';
      box.dataset.ok = 'false';
      box.replaceChildren(
        h('div', { class: 'adm-headline', role: 'alert', 'data-testid': `${prefix}-error`, 'data-kind': kind || '' }, headline),
        h('div', { class: 'adm-muted', 'data-testid': `${prefix}-detail` }, detail || ''));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Lists

/** A small rounded label; `state`: 'ok' | 'warn' | 'bad' | '' (grey). */
export function badge(text, state, testid) {
  return h('span', { class: state ? `adm-badge ${state}` : 'adm-badge', 'data-testid': testid }, text);
}
