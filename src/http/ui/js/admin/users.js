// admin/users.js — users and API tokens (#/settings/users, admins): list accounts, add one (name, password,
// role, camera grants), remove one; create an API token and show it once with a copy button.
//
// Why it is shaped this way:
// - The API is deliberately small (GET/POST /api/users, DELETE /api/users/{name}, GET/POST /api/tokens,
//   DELETE /api/tokens/{label}) and kw-auth enforces the rules (name syntax, password length, never removing
//   the last admin); the page shows the server's message next to the field it names (admin/forms.js)
//   instead of guessing the rules twice.
// - Camera grants only mean something for viewers: "all cameras" (the API's `cameras` omitted) is the
//   default, and unticking it shows one checkbox per configured camera.
// - A token is shown exactly once (only its hash is stored), so it stays on screen with a copy button until
//   the admin dismisses it. The token list shows labels, grants and last use, never a secret; revoking one
//   stops it at once.

import { h } from '../dom.js';
import { formStrings, field, checkbox, checkLabel, select, fieldset, textInput, formError, submitButton, onSubmit,
  deleteButton, badge } from './forms.js';

const strings = {
  en: {
    ...formStrings.en,
    'users.title': 'Users',
    'users.none': 'No users.',
    'users.you': 'you',
    'users.allCameras': 'all cameras',
    'users.cameras': 'cameras: {list}',
    'users.noCameras': 'no cameras',
    'users.remove': 'Remove',
    'users.removeConfirm': 'Remove user "{name}"? Their sessions end at once.',
    'users.removed': 'User "{name}" removed',
    'users.add': 'Add user',
    'users.added': 'User "{name}" added',
    'users.f.name': 'User name',
    'users.f.password': 'Password',
    'users.f.role': 'Role',
    'users.f.cameras': 'Cameras',
    'users.f.allCameras': 'All cameras (also ones added later)',
    'users.role.admin': 'Administrator',
    'users.role.viewer': 'Viewer',
    'users.roleHint.admin': 'Sees everything and may change settings.',
    'users.roleHint.viewer': 'Watches live and recorded video of the granted cameras.',
    'users.tokens': 'API tokens',
    'users.tokensHint': 'For scripts and Home Assistant: send it as "Authorization: Bearer TOKEN".',
    'users.t.none': 'No API tokens.',
    'users.t.revoke': 'Revoke',
    'users.t.revokeConfirm': 'Revoke token "{label}"? Whatever uses it stops working at once.',
    'users.t.revoked': 'Token "{label}" revoked',
    'users.t.lastUsed': 'last used {when}',
    'users.t.neverUsed': 'never used',
    'users.t.label': 'Label',
    'users.t.create': 'Create token',
    'users.t.created': 'Token "{label}" — copy it now, it is shown only once:',
    'users.t.copy': 'Copy',
    'users.t.copied': 'Copied',
    'users.t.done': 'Done',
  },
  de: {
    ...formStrings.de,
    'users.title': 'Benutzer',
    'users.none': 'Keine Benutzer.',
    'users.you': 'Sie',
    'users.allCameras': 'alle Kameras',
    'users.cameras': 'Kameras: {list}',
    'users.noCameras': 'keine Kameras',
    'users.remove': 'Entfernen',
    'users.removeConfirm': 'Benutzer „{name}“ entfernen? Seine Sitzungen enden sofort.',
    'users.removed': 'Benutzer „{name}“ entfernt',
    'users.add': 'Benutzer hinzufügen',
    'users.added': 'Benutzer „{name}“ hinzugefügt',
    'users.f.name': 'Benutzername',
    'users.f.password': 'Passwort',
    'users.f.role': 'Rolle',
    'users.f.cameras': 'Kameras',
    'users.f.allCameras': 'Alle Kameras (auch später hinzugefügte)',
    'users.role.admin': 'Administrator',
    'users.role.viewer': 'Betrachter',
    'users.roleHint.admin': 'Sieht alles und darf Einstellungen ändern.',
    'users.roleHint.viewer': 'Sieht Live- und aufgezeichnete Videos der freigegebenen Kameras.',
    'users.tokens': 'API-Tokens',
    'users.tokensHint': 'Für Skripte und Home Assistant: als „Authorization: Bearer TOKEN“ senden.',
    'users.t.none': 'Keine API-Tokens.',
    'users.t.revoke': 'Widerrufen',
    'users.t.revokeConfirm': 'Token „{label}“ widerrufen? Was ihn nutzt, hört sofort auf zu funktionieren.',
    'users.t.revoked': 'Token „{label}“ widerrufen',
    'users.t.lastUsed': 'zuletzt benutzt {when}',
    'users.t.neverUsed': 'nie benutzt',
    'users.t.label': 'Bezeichnung',
    'users.t.create': 'Token erstellen',
    'users.t.created': 'Token „{label}“ – jetzt kopieren, es wird nur einmal angezeigt:',
    'users.t.copy': 'Kopieren',
    'users.t.copied': 'Kopiert',
    'users.t.done': 'Fertig',
  },
};

/** Role select + "all cameras" + one checkbox per camera; `value()` gives {role, cameras} for the API. */
function grantControls(ctx, cameras, prefix) {
  const { t } = ctx;
  const role = select(`${prefix}-role`, [['viewer', t('users.role.viewer')], ['admin', t('users.role.admin')]]);
  const roleHint = h('small');
  const all = checkbox(`${prefix}-all-cameras`, true);
  const boxes = cameras.map((c) => checkbox(`${prefix}-camera-${c}`, false, { value: c }));
  const checks = h('div', { class: 'adm-checks' }, cameras.map((c, i) => checkLabel(boxes[i], c)));
  const camField = fieldset(t('users.f.cameras'),
    checkLabel(all, t('users.f.allCameras')), checks,
    h('div', { class: 'adm-err', 'data-err': 'cameras' }));
  const sync = () => {
    roleHint.textContent = t(`users.roleHint.${role.value}`);
    camField.hidden = role.value === 'admin';
    checks.hidden = all.checked;
  };
  role.addEventListener('change', sync);
  all.addEventListener('change', sync);
  sync();
  return {
    nodes: [field(t('users.f.role'), [role, roleHint], null, 'role'), camField],
    value: () => ({
      role: role.value,
      cameras: role.value === 'admin' || all.checked ? null : boxes.filter((b) => b.checked).map((b) => b.value),
    }),
    reset: () => { role.value = 'viewer'; all.checked = true; boxes.forEach((b) => { b.checked = false; }); sync(); },
  };
}

/** "all cameras" / "cameras: a, b" / "no cameras" for a user's or a token's grants. */
function grantsText(t, role, cameras) {
  if (role === 'admin' || !cameras) return t('users.allCameras');
  return cameras.length ? t('users.cameras', { list: cameras.join(', ') }) : t('users.noCameras');
}

function userCard(ctx, u, reload) {
  const { t } = ctx;
  const me = ctx.me?.user === u.name;
  return h('div', { class: 'adm-card', 'data-testid': `user-${u.name}` },
    h('div', { class: 'adm-row' }, h('strong', null, u.name),
      badge(t(`users.role.${u.role}`), u.role === 'admin' ? 'warn' : ''),
      me ? badge(t('users.you')) : null),
    h('div', { class: 'adm-muted' }, grantsText(t, u.role, u.cameras)),
    h('div', { class: 'adm-actions' },
      deleteButton(t('users.remove'), `user-remove-${u.name}`, t('users.removeConfirm', { name: u.name }), async () => {
        await ctx.api(`/api/users/${encodeURIComponent(u.name)}`, { method: 'DELETE' });
        ctx.toast(t('users.removed', { name: u.name }), 'ok');
        reload();
      })));
}

function addUserForm(ctx, cameras, reload) {
  const { t } = ctx;
  const name = textInput('user-name', '', { required: true });
  const pw = h('input', { type: 'password', 'data-testid': 'user-password', autocomplete: 'new-password', required: true });
  const grants = grantControls(ctx, cameras, 'user');
  const topErr = formError('user-form-error');
  const submit = submitButton(t('users.add'), 'user-add');
  const form = h('form', { class: 'adm-form', 'data-testid': 'user-form' },
    h('h3', null, t('users.add')), topErr,
    h('div', { class: 'adm-grid2' },
      field(t('users.f.name'), name, null, 'name'),
      field(t('users.f.password'), pw, null, 'password')),
    grants.nodes,
    h('div', { class: 'adm-actions' }, submit));
  onSubmit(form, {
    button: submit,
    errorBox: topErr,
    send: async () => {
      const body = { name: name.value.trim(), password: pw.value, ...grants.value() };
      if (body.cameras === null) delete body.cameras;
      await ctx.api('/api/users', { method: 'POST', body });
      ctx.toast(t('users.added', { name: body.name }), 'ok');
      name.value = '';
      pw.value = '';
      grants.reset();
      reload();
    },
  });
  return form;
}

function tokenCard(ctx, tk, reload) {
  const { t } = ctx;
  const used = tk.last_used ? t('users.t.lastUsed', { when: ctx.fmt.relative(new Date(tk.last_used)) })
    : t('users.t.neverUsed');
  return h('div', { class: 'adm-card', 'data-testid': `token-${tk.label}` },
    h('div', { class: 'adm-row' }, h('strong', null, tk.label),
      badge(t(`users.role.${tk.role}`), tk.role === 'admin' ? 'warn' : '')),
    h('div', { class: 'adm-muted' }, `${grantsText(t, tk.role, tk.cameras)} · ${used}`),
    h('div', { class: 'adm-actions' },
      deleteButton(t('users.t.revoke'), `token-revoke-${tk.label}`, t('users.t.revokeConfirm', { label: tk.label }), async () => {
        await ctx.api(`/api/tokens/${encodeURIComponent(tk.label)}`, { method: 'DELETE' });
        ctx.toast(t('users.t.revoked', { label: tk.label }), 'ok');
        reload();
      })));
}

/** The new token, shown once with a copy button until the admin says done. */
function shownToken(t, r, onDone) {
  const code = h('div', { class: 'adm-token', 'data-testid': 'token-value' }, r.token);
  const copy = h('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'token-copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(r.token);
      } catch (_) {
        // Plain http on a LAN address is not a secure context: no clipboard API. Select it instead.
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        document.execCommand?.('copy');
      }
      copy.textContent = t('users.t.copied');
    } }, t('users.t.copy'));
  return h('div', { class: 'adm-probe ok' },
    h('div', null, t('users.t.created', { label: r.label })), code,
    h('div', { class: 'adm-actions' }, copy,
      h('button', { type: 'button', class: 'btn', 'data-testid': 'token-done', onclick: onDone }, t('users.t.done'))));
}

function tokenForm(ctx, cameras, onCreated) {
  const { t } = ctx;
  const label = h('input', { 'data-testid': 'token-label', autocomplete: 'off', required: true });
  const grants = grantControls(ctx, cameras, 'token');
  const topErr = formError('token-form-error');
  const shown = h('div', { 'data-testid': 'token-shown' });
  const submit = submitButton(t('users.t.create'), 'token-create');
  const form = h('form', { class: 'adm-form', 'data-testid': 'token-form' },
    h('h3', null, t('users.tokens')),
    h('p', { class: 'adm-muted' }, t('users.tokensHint')),
    topErr, shown,
    field(t('users.t.label'), label, null, 'label'),
    grants.nodes,
    h('div', { class: 'adm-actions' }, submit));
  onSubmit(form, {
    button: submit,
    errorBox: topErr,
    send: async () => {
      const body = { label: label.value.trim(), ...grants.value() };
      if (body.cameras === null) delete body.cameras;
      const r = await ctx.api('/api/tokens', { method: 'POST', body });
      shown.replaceChildren(shownToken(t, r, () => shown.replaceChildren()));
      label.value = '';
      grants.reset();
      onCreated();
    },
  });
  return form;
}

export default {
  path: 'settings/users',
  nav: 'nav.users',
  admin: true,
  strings,
  async render(root, ctx) {
    const { t } = ctx;
    const list = h('div', { class: 'adm-list', 'data-testid': 'user-list' });
    const [users, cams] = await Promise.all([ctx.api('/api/users'), ctx.api('/api/cameras')]);
    const cameras = cams.map((c) => c.name);
    const reload = async () => {
      try {
        show(await ctx.api('/api/users'));
      } catch (e) {
        ctx.toast(e.message, 'error');
      }
    };
    const show = (us) => {
      list.replaceChildren(...(us.length ? us.map((u) => userCard(ctx, u, reload))
        : [h('p', { class: 'adm-muted' }, t('users.none'))]));
    };
    show(users);
    const tokens = h('div', { class: 'adm-list', 'data-testid': 'token-list' });
    const reloadTokens = async () => {
      try {
        const ts = await ctx.api('/api/tokens');
        tokens.replaceChildren(...(ts.length ? ts.map((tk) => tokenCard(ctx, tk, reloadTokens))
          : [h('p', { class: 'adm-muted' }, t('users.t.none'))]));
      } catch (e) {
        ctx.toast(e.message, 'error');
      }
    };
    await reloadTokens();
    root.append(h('div', { class: 'adm', 'data-testid': 'page-admin-users' },
      h('h2', null, t('users.title')), list,
      h('section', { class: 'adm-card' }, addUserForm(ctx, cameras, reload)),
      h('section', { class: 'adm-card' }, tokenForm(ctx, cameras, reloadTokens), tokens)));
  },
};
