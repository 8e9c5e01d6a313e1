// admin/notifiers.js — the notifier editor of the alerts page (#/settings/alerts): add or change an MQTT,
// webhook, e-mail or ntfy notifier, send a test with what is typed, and save it into the config file.
//
// Why it is shaped this way:
// - The server owns the rules: the config reader judges each value and a 400 names the field
//   (POST /api/notifiers, PUT /api/notifiers/{name}); the form only shows the answer next to it.
// - Secrets are write-only: the target comes back with its password as *** (sending it back unchanged keeps
//   it), the password field replaces it, the webhook secret is only "stored" or not (forms.js secretField).
// - "Send test" tests the form as typed, before saving (POST /api/alerts/test); an existing notifier names
//   itself so the server can use the stored secrets. A failure shows a big localized headline (wrong
//   password, unreachable, TLS) with the server's exact message under it.
// - Only the fields of the chosen kind are shown; cameras and event kinds are check boxes (none ticked: all).

import { h } from '../dom.js';
import { field, textInput, checkbox, checkLabel, select, fieldset, secretField, formError, setFieldError,
  submitButton, onSubmit, actionButton, testResult, group, checks } from './forms.js';

const KINDS = ['mqtt', 'webhook', 'email', 'ntfy'];
const EVENTS = ['motion', 'camera-motion', 'camera-offline', 'storage'];
const PLACEHOLDER = {
  mqtt: 'mqtt://user@192.168.1.10:1883',
  webhook: 'https://example.org/hooks/keepwatch',
  email: 'smtps://user@mail.example.org:465',
  ntfy: 'https://ntfy.sh/my-secret-topic',
};

export const notifierStrings = {
  en: {
    'nf.newTitle': 'New notifier',
    'nf.editTitle': 'Notifier "{name}"',
    'nf.name': 'Name',
    'nf.nameHint': 'a-z, 0-9 and -',
    'nf.kind': 'Kind',
    'nf.target': 'Target',
    'nf.targetHint': 'Where alerts go. A password written here is moved to the password field.',
    'nf.password': 'Password',
    'nf.passwordClear': 'Remove the stored password',
    'nf.secret': 'Signing secret (HMAC)',
    'nf.secretClear': 'Remove the stored secret',
    'nf.from': 'From',
    'nf.to': 'To (comma-separated)',
    'nf.prefix': 'Home Assistant discovery prefix',
    'nf.commands': 'Obey commands from the broker (switch recording, motion, mode off)',
    'nf.which': 'What to send',
    'nf.cameras': 'Cameras (none ticked: all)',
    'nf.events': 'Event kinds (none ticked: all)',
    'nf.cooldown': 'Cooldown',
    'nf.cooldownHint': 'Least time between two alerts of one camera and kind, e.g. 30s, 5m',
    'nf.test': 'Send test',
    'nf.testing': 'Sending…',
    'nf.testOk': 'Test sent',
    'nf.save': 'Save',
    'nf.saving': 'Saving…',
    'nf.cancel': 'Cancel',
    'nf.saved': 'Notifier "{name}" saved',
    'nf.bad.name': 'Use a-z, 0-9 and - only.',
    'nf.bad.target': 'Enter where alerts go.',
    'nf.fail.auth': 'Wrong user name or password',
    'nf.fail.tls': 'The TLS connection failed (certificate?)',
    'nf.fail.unreachable': 'Cannot reach the target',
    'nf.fail.timeout': 'No answer in time',
    'nf.fail.invalid': 'A setting is not valid',
    'nf.fail.failed': 'The test failed',
  },
  de: {
    'nf.newTitle': 'Neue Benachrichtigung',
    'nf.editTitle': 'Benachrichtigung „{name}“',
    'nf.name': 'Name',
    'nf.nameHint': 'a-z, 0-9 und -',
    'nf.kind': 'Art',
    'nf.target': 'Ziel',
    'nf.targetHint': 'Wohin die Alarme gehen. Ein hier geschriebenes Passwort wandert ins Passwortfeld.',
    'nf.password': 'Passwort',
    'nf.passwordClear': 'Gespeichertes Passwort entfernen',
    'nf.secret': 'Signaturschlüssel (HMAC)',
    'nf.secretClear': 'Gespeicherten Schlüssel entfernen',
    'nf.from': 'Absender',
    'nf.to': 'Empfänger (durch Komma getrennt)',
    'nf.prefix': 'Home-Assistant-Discovery-Präfix',
    'nf.commands': 'Befehle vom Broker befolgen (Aufnahme, Bewegung, Modus aus schalten)',
    'nf.which': 'Was gesendet wird',
    'nf.cameras': 'Kameras (keine angehakt: alle)',
    'nf.events': 'Ereignisarten (keine angehakt: alle)',
    'nf.cooldown': 'Sperrzeit',
    'nf.cooldownHint': 'Mindestabstand zwischen zwei Alarmen einer Kamera und Art, z. B. 30s, 5m',
    'nf.test': 'Test senden',
    'nf.testing': 'Wird gesendet…',
    'nf.testOk': 'Test gesendet',
    'nf.save': 'Speichern',
    'nf.saving': 'Wird gespeichert…',
    'nf.cancel': 'Abbrechen',
    'nf.saved': 'Benachrichtigung „{name}“ gespeichert',
    'nf.bad.name': 'Nur a-z, 0-9 und - verwenden.',
    'nf.bad.target': 'Geben Sie an, wohin die Alarme gehen.',
    'nf.fail.auth': 'Benutzername oder Passwort falsch',
    'nf.fail.tls': 'Die TLS-Verbindung ist fehlgeschlagen (Zertifikat?)',
    'nf.fail.unreachable': 'Ziel nicht erreichbar',
    'nf.fail.timeout': 'Keine Antwort in der Zeit',
    'nf.fail.invalid': 'Eine Einstellung ist ungültig',
    'nf.fail.failed': 'Der Test ist fehlgeschlagen',
  },
};

const NAME_RE = /^[a-z0-9-]{1,64}$/;

function blank() {
  return { name: '', kind: 'mqtt', target: '', has_password: false, has_secret: false, cameras: null,
    events: null, cooldown: '30s', discovery_prefix: null, commands: false, from: null, to: [] };
}

/** Renders the form into `host`; `done()` goes back to the list. */
export async function renderNotifierForm(host, ctx, name, done) {
  const { t } = ctx;
  const isNew = name === null;
  const [cfg, cams] = await Promise.all([
    isNew ? blank() : ctx.api(`/api/notifiers/${encodeURIComponent(name)}/config`),
    ctx.api('/api/cameras'),
  ]);
  const nameIn = textInput('nf-name', cfg.name, { required: true, maxlength: 64 });
  const kindSel = select('nf-kind', KINDS.map((k) => [k, t(`alerts.kind.${k}`)]), cfg.kind);
  const targetIn = textInput('nf-target', cfg.target, { required: true, inputmode: 'url', placeholder: PLACEHOLDER[cfg.kind] });
  const password = secretField({ label: t('nf.password'), testid: 'nf-password', errKey: 'password',
    isSet: cfg.has_password, clearLabel: t('nf.passwordClear') });
  const secret = secretField({ label: t('nf.secret'), testid: 'nf-secret', errKey: 'secret',
    isSet: cfg.has_secret, clearLabel: t('nf.secretClear') });
  const fromIn = textInput('nf-from', cfg.from, { type: 'email' });
  const toIn = textInput('nf-to', (cfg.to || []).join(', '));
  const prefixIn = textInput('nf-prefix', cfg.discovery_prefix, { placeholder: 'homeassistant' });
  const commandsIn = checkbox('nf-commands', cfg.commands);
  const camChecks = checks('nf-cam', cams.map((c) => c.name), cfg.cameras);
  const evChecks = checks('nf-ev', EVENTS, cfg.events, (k) => t(`ev.k.${k}`) === `ev.k.${k}` ? k : t(`ev.k.${k}`));
  const cooldownIn = textInput('nf-cooldown', cfg.cooldown, { placeholder: '30s' });

  const only = {
    mqtt: h('div', null, field(t('nf.prefix'), prefixIn, null, 'discovery_prefix'), checkLabel(commandsIn, t('nf.commands'))),
    webhook: h('div', null, secret.field, secret.clear),
    email: h('div', { class: 'adm-grid2' }, field(t('nf.from'), fromIn, null, 'from'), field(t('nf.to'), toIn, null, 'to')),
    ntfy: null,
  };
  const showKind = () => {
    for (const k of KINDS) if (only[k]) only[k].hidden = kindSel.value !== k;
    targetIn.placeholder = PLACEHOLDER[kindSel.value] || '';
  };
  kindSel.addEventListener('change', showKind);

  const body = () => {
    const b = {
      name: isNew ? nameIn.value.trim() : cfg.name,
      kind: kindSel.value,
      target: targetIn.value.trim(),
      cameras: camChecks.value(),
      events: evChecks.value(),
      cooldown: cooldownIn.value.trim() || null,
    };
    if (b.kind === 'mqtt') { b.discovery_prefix = prefixIn.value.trim() || null; b.commands = commandsIn.checked; }
    if (b.kind === 'email') {
      b.from = fromIn.value.trim() || null;
      b.to = toIn.value.split(',').map((s) => s.trim()).filter(Boolean);
    }
    const pw = password.value();
    if (pw !== undefined) b.password = pw;
    const sec = secret.value();
    if (b.kind === 'webhook' && sec !== undefined) b.secret = sec;
    return b;
  };

  const result = testResult('nf-test');
  const testBtn = actionButton(t('nf.test'), 'nf-test', async () => {
    const b = body();
    if (!isNew) b.notifier = cfg.name;
    result.busy(t('nf.testing'));
    let r;
    try {
      r = await ctx.api('/api/alerts/test', { method: 'POST', body: b });
    } catch (e) {
      r = { ok: false, kind: 'failed', error: e.message };
    }
    if (r.ok) {
      result.ok(h('div', { class: 'adm-headline' }, t('nf.testOk')), h('div', { class: 'adm-muted', 'data-testid': 'nf-test-detail' }, r.result));
    } else {
      result.fail(t(`nf.fail.${r.kind}`) === `nf.fail.${r.kind}` ? t('nf.fail.failed') : t(`nf.fail.${r.kind}`), r.error, r.kind);
    }
  });

  const topErr = formError('nf-form-error');
  const saveBtn = submitButton(t('nf.save'), 'nf-save');
  const form = h('form', { class: 'adm-form', novalidate: true, 'data-testid': 'nf-form' },
    h('h2', null, isNew ? t('nf.newTitle') : t('nf.editTitle', { name: cfg.name })),
    topErr,
    fieldset(t('nf.kind'),
      h('div', { class: 'adm-grid2' },
        field(t('nf.name'), nameIn, isNew ? t('nf.nameHint') : null, 'name'),
        field(t('nf.kind'), kindSel, null, 'kind')),
      field(t('nf.target'), targetIn, t('nf.targetHint'), 'target'),
      password.field, password.clear,
      only.mqtt, only.webhook, only.email,
      h('div', { class: 'adm-actions' }, testBtn),
      result.node),
    fieldset(t('nf.which'),
      group(t('nf.cameras'), camChecks.node, 'cameras'),
      group(t('nf.events'), evChecks.node, 'events'),
      field(t('nf.cooldown'), cooldownIn, t('nf.cooldownHint'), 'cooldown')),
    h('div', { class: 'adm-actions' }, saveBtn,
      h('button', { type: 'button', class: 'btn', 'data-testid': 'nf-cancel', onclick: () => done() }, t('nf.cancel'))));
  if (!isNew) nameIn.disabled = true;
  showKind();

  onSubmit(form, {
    button: saveBtn,
    busyLabel: t('nf.saving'),
    errorBox: topErr,
    check: () => {
      let good = true;
      if (isNew && !NAME_RE.test(nameIn.value.trim())) { setFieldError(form, 'name', t('nf.bad.name')); good = false; }
      if (!targetIn.value.trim()) { setFieldError(form, 'target', t('nf.bad.target')); good = false; }
      return good;
    },
    fieldOf: (e) => e.field || (e.status === 409 ? 'name' : null),
    send: async () => {
      const b = body();
      if (isNew) await ctx.api('/api/notifiers', { method: 'POST', body: b });
      else await ctx.api(`/api/notifiers/${encodeURIComponent(cfg.name)}`, { method: 'PUT', body: b });
      ctx.toast(t('nf.saved', { name: b.name }), 'ok');
      done();
    },
  });
  host.replaceChildren(form);
  if (isNew) nameIn.focus();
}
