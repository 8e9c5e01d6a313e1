// Users and API tokens (#/settings/users, admins): list accounts, add one (name, password, role, camera
// grants), remove one; create an API token and show it once with a copy button.
//
// Why it is shaped this way:
// - The API is deliberately small (GET/POST /api/users, DELETE /api/users/{name}, GET/POST /api/tokens,
//   DELETE /api/tokens/{label}) and kw-auth
//   enforces the rules (name syntax, password length, never removing the last admin); the page shows the
//   server's message instead of guessing the rules twice.
// - Camera grants only mean something for viewers: "all cameras" (the API's `cameras` omitted) is the
//   default, and unticking it shows one checkbox per configured camera.
// - A token is shown exactly once (only its hash is stored), so it stays on screen with a copy button until
//   the admin dismisses it. The token list shows labels, grants and last use, never a secret; revoking one
//   stops it at once.

import { adminStyle, el, field, confirmInline, showFieldError, clearErrors } from './cameras.js';

const strings = {
  en: {
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
  const role = el('select', { 'data-testid': `${prefix}-role` },
    el('option', { value: 'viewer' }, t('users.role.viewer')),
    el('option', { value: 'admin' }, t('users.role.admin')));
  const roleHint = el('small');
  const all = el('input', { type: 'checkbox', checked: true, 'data-testid': `${prefix}-all-cameras` });
  const boxes = cameras.map((c) => el('input', { type: 'checkbox', value: c, 'data-testid': `${prefix}-camera-${c}` }));
  const checks = el('div', { class: 'adm-checks' },
    cameras.map((c, i) => el('label', { class: 'adm-check' }, boxes[i], c)));
  const camField = el('fieldset', null, el('legend', null, t('users.f.cameras')),
    el('label', { class: 'adm-check' }, all, t('users.f.allCameras')), checks,
    el('div', { class: 'adm-err', 'data-err': 'cameras' }));
  const sync = () => {
    roleHint.textContent = t(`users.roleHint.${role.value}`);
    camField.hidden = role.value === 'admin';
    checks.hidden = all.checked;
  };
  role.addEventListener('change', sync);
  all.addEventListener('change', sync);
  sync();
  return {
    nodes: [el('label', { class: 'adm-field' }, el('span', null, t('users.f.role')), role, roleHint,
      el('div', { class: 'adm-err', 'data-err': 'role' })), camField],
    value: () => ({
      role: role.value,
      cameras: role.value === 'admin' || all.checked ? null : boxes.filter((b) => b.checked).map((b) => b.value),
    }),
    reset: () => { role.value = 'viewer'; all.checked = true; boxes.forEach((b) => { b.checked = false; }); sync(); },
  };
}

function userCard(ctx, u, reload) {
  const { t } = ctx;
  const me = ctx.me?.user === u.name;
  const grants = u.role === 'admin' || u.cameras === null || u.cameras === undefined ? t('users.allCameras')
    : u.cameras.length ? t('users.cameras', { list: u.cameras.join(', ') }) : t('users.noCameras');
  const card = el('div', { class: 'adm-card', 'data-testid': `user-${u.name}` },
    el('div', { class: 'adm-row' }, el('strong', null, u.name),
      el('span', { class: `adm-badge ${u.role === 'admin' ? 'warn' : ''}` }, t(`users.role.${u.role}`)),
      me ? el('span', { class: 'adm-badge' }, t('users.you')) : null),
    el('div', { class: 'adm-muted' }, grants),
    el('div', { class: 'adm-actions' },
      el('button', { type: 'button', class: 'btn adm-danger', 'data-testid': `user-remove-${u.name}`, onclick: async () => {
        if (!(await confirmInline(card, t('users.removeConfirm', { name: u.name }), t))) return;
        try {
          await ctx.api(`/api/users/${encodeURIComponent(u.name)}`, { method: 'DELETE' });
          ctx.toast(t('users.removed', { name: u.name }), 'ok');
          reload();
        } catch (e) {
          ctx.toast(e.message, 'error');
        }
      } }, t('users.remove'))));
  return card;
}

function addUserForm(ctx, cameras, reload) {
  const { t } = ctx;
  const name = el('input', { 'data-testid': 'user-name', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
    required: true });
  const pw = el('input', { type: 'password', 'data-testid': 'user-password', autocomplete: 'new-password', required: true });
  const grants = grantControls(ctx, cameras, 'user');
  const topErr = el('div', { class: 'adm-err', role: 'alert', 'data-testid': 'user-form-error' });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary adm-primary', 'data-testid': 'user-add' },
    t('users.add'));
  const form = el('form', { class: 'adm-form', 'data-testid': 'user-form' },
    el('h3', null, t('users.add')), topErr,
    el('div', { class: 'adm-grid2' },
      field(t('users.f.name'), name, null, 'name'),
      field(t('users.f.password'), pw, null, 'password')),
    grants.nodes,
    el('div', { class: 'adm-actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = { name: name.value.trim(), password: pw.value, ...grants.value() };
    if (body.cameras === null) delete body.cameras;
    submit.disabled = true;
    try {
      await ctx.api('/api/users', { method: 'POST', body });
      ctx.toast(t('users.added', { name: body.name }), 'ok');
      name.value = '';
      pw.value = '';
      grants.reset();
      reload();
    } catch (e) {
      if (!showFieldError(form, e.message, e.field)) topErr.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function tokenCard(ctx, tk, reload) {
  const { t } = ctx;
  const grants = tk.role === 'admin' || !tk.cameras ? t('users.allCameras')
    : tk.cameras.length ? t('users.cameras', { list: tk.cameras.join(', ') }) : t('users.noCameras');
  const used = tk.last_used ? t('users.t.lastUsed', { when: ctx.fmt.relative(new Date(tk.last_used)) })
    : t('users.t.neverUsed');
  const card = el('div', { class: 'adm-card', 'data-testid': `token-${tk.label}` },
    el('div', { class: 'adm-row' }, el('strong', null, tk.label),
      el('span', { class: `adm-badge ${tk.role === 'admin' ? 'warn' : ''}` }, t(`users.role.${tk.role}`))),
    el('div', { class: 'adm-muted' }, `${grants} · ${used}`),
    el('div', { class: 'adm-actions' },
      el('button', { type: 'button', class: 'btn adm-danger', 'data-testid': `token-revoke-${tk.label}`, onclick: async () => {
        if (!(await confirmInline(card, t('users.t.revokeConfirm', { label: tk.label }), t))) return;
        try {
          await ctx.api(`/api/tokens/${encodeURIComponent(tk.label)}`, { method: 'DELETE' });
          ctx.toast(t('users.t.revoked', { label: tk.label }), 'ok');
          reload();
        } catch (e) {
          ctx.toast(e.message, 'error');
        }
      } }, t('users.t.revoke'))));
  return card;
}

function tokenForm(ctx, cameras, onCreated) {
  const { t } = ctx;
  const label = el('input', { 'data-testid': 'token-label', autocomplete: 'off', required: true });
  const grants = grantControls(ctx, cameras, 'token');
  const topErr = el('div', { class: 'adm-err', role: 'alert', 'data-testid': 'token-form-error' });
  const shown = el('div', { 'data-testid': 'token-shown' });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary adm-primary', 'data-testid': 'token-create' },
    t('users.t.create'));
  const form = el('form', { class: 'adm-form', 'data-testid': 'token-form' },
    el('h3', null, t('users.tokens')),
    el('p', { class: 'adm-muted' }, t('users.tokensHint')),
    topErr, shown,
    field(t('users.t.label'), label, null, 'label'),
    grants.nodes,
    el('div', { class: 'adm-actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = { label: label.value.trim(), ...grants.value() };
    if (body.cameras === null) delete body.cameras;
    submit.disabled = true;
    try {
      const r = await ctx.api('/api/tokens', { method: 'POST', body });
      const code = el('div', { class: 'adm-token', 'data-testid': 'token-value' }, r.token);
      const copy = el('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'token-copy',
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
      shown.replaceChildren(el('div', { class: 'adm-probe ok' },
        el('div', null, t('users.t.created', { label: r.label })), code,
        el('div', { class: 'adm-actions' }, copy,
          el('button', { type: 'button', class: 'btn', 'data-testid': 'token-done',
            onclick: () => shown.replaceChildren() }, t('users.t.done')))));
      label.value = '';
      grants.reset();
      onCreated();
    } catch (e) {
      if (!showFieldError(form, e.message, e.field)) topErr.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export default {
  path: 'settings/users',
  nav: 'nav.users',
  admin: true,
  strings,
  async render(root, ctx) {
    adminStyle();
    const { t } = ctx;
    const list = el('div', { class: 'adm-list', 'data-testid': 'user-list' });
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
        : [el('p', { class: 'adm-muted' }, t('users.none'))]));
    };
    show(users);
    const tokens = el('div', { class: 'adm-list', 'data-testid': 'token-list' });
    const reloadTokens = async () => {
      try {
        const ts = await ctx.api('/api/tokens');
        tokens.replaceChildren(...(ts.length ? ts.map((tk) => tokenCard(ctx, tk, reloadTokens))
          : [el('p', { class: 'adm-muted' }, t('users.t.none'))]));
      } catch (e) {
        ctx.toast(e.message, 'error');
      }
    };
    await reloadTokens();
    root.append(el('div', { class: 'adm', 'data-testid': 'page-admin-users' },
      el('h2', null, t('users.title')), list,
      el('section', { class: 'adm-card' }, addUserForm(ctx, cameras, reload)),
      el('section', { class: 'adm-card' }, tokenForm(ctx, cameras, reloadTokens), tokens)));
  },
};
