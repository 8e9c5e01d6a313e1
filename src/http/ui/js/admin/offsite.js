// admin/offsite.js — the off-site target editor of the alerts page (#/settings/alerts): add or change an
// [[offsite]] target (S3 or WebDAV), test it with what is typed, and save it into the config file; also the
// "test" of a saved target for its card.
//
// Why it is shaped this way:
// - The server owns the rules: the config reader judges each value and a 400 names the field
//   (POST /api/offsite, PUT /api/offsite/{name}); the form only shows the answer next to it.
// - Credentials are write-only: the server says only whether some are set. A key and secret typed here go
//   into a private credentials file beside the config, never into the config itself; both left empty keep
//   the stored ones (forms.js secretField).
// - "Test" is a real round trip (a small encrypted object written and removed): the form as typed, before
//   saving (POST /api/offsite/{name}/test with the form), or the saved target (without one). A failure shows
//   a localized headline (wrong key or secret, unreachable, TLS, bucket missing) with the exact error under it.
// - Recipients are age public keys, one per line; only their holders can read the copies.

import { h } from '../dom.js';
import { field, textInput, checkbox, checkLabel, select, fieldset, secretField, formError, setFieldError,
  submitButton, onSubmit, actionButton, testResult, group, checks } from './forms.js';

const EVENTS = ['motion', 'camera-motion'];
const WHAT = ['both', 'clip', 'picture'];

export const offsiteStrings = {
  en: {
    'of.newTitle': 'New off-site target',
    'of.editTitle': 'Off-site target "{name}"',
    'of.where': 'Where copies go',
    'of.name': 'Name',
    'of.nameHint': 'a-z, 0-9 and -',
    'of.target': 'Target',
    'of.targetHint': 's3://bucket/prefix, or webdav(s)://host/path (e.g. Nextcloud)',
    'of.endpoint': 'S3 endpoint',
    'of.endpointHint': 'The service’s address, e.g. https://s3.eu-central-003.backblazeb2.com (empty: AWS)',
    'of.region': 'S3 region',
    'of.pathStyle': 'Path-style requests (MinIO, Garage, SeaweedFS)',
    'of.key': 'Access key (S3) or user (WebDAV)',
    'of.secret': 'Secret key or password',
    'of.secretClear': 'Remove the stored credentials',
    'of.credsHint': 'Kept in a private file beside the config, never in the config itself.',
    'of.recipients': 'Recipients (age public keys, one per line)',
    'of.recipientsHint': 'age1… keys from “keepwatch offsite keygen”. Keep the secret identities off this machine.',
    'of.which': 'What to copy',
    'of.cameras': 'Cameras (none ticked: all)',
    'of.events': 'Event kinds (none ticked: both)',
    'of.what': 'What',
    'of.what.both': 'Clip and picture',
    'of.what.clip': 'Clip',
    'of.what.picture': 'Picture',
    'of.limits': 'Bandwidth and retention',
    'of.bandwidth': 'Bandwidth cap',
    'of.bandwidthHint': 'e.g. 2Mbit (empty: none)',
    'of.keepCount': 'Keep at most (objects)',
    'of.keepAge': 'Keep for',
    'of.keepAgeHint': 'e.g. 30d (empty: forever)',
    'of.hideNames': 'Hide camera names and times in object names',
    'of.test': 'Test',
    'of.testing': 'Testing…',
    'of.testOk': 'The target works',
    'of.save': 'Save',
    'of.saving': 'Saving…',
    'of.cancel': 'Cancel',
    'of.saved': 'Off-site target "{name}" saved',
    'of.bad.name': 'Use a-z, 0-9 and - only.',
    'of.bad.target': 'Enter where the copies go.',
    'of.bad.recipients': 'Enter at least one age1… recipient.',
    'of.fail.auth': 'Wrong key or secret (user or password)',
    'of.fail.tls': 'The TLS connection failed (certificate?)',
    'of.fail.unreachable': 'Cannot reach the target',
    'of.fail.bucket': 'The bucket does not exist',
    'of.fail.timeout': 'No answer in time',
    'of.fail.invalid': 'A setting is not valid',
    'of.fail.failed': 'The test failed',
  },
  de: {
    'of.newTitle': 'Neues externes Ziel',
    'of.editTitle': 'Externes Ziel „{name}“',
    'of.where': 'Wohin die Kopien gehen',
    'of.name': 'Name',
    'of.nameHint': 'a-z, 0-9 und -',
    'of.target': 'Ziel',
    'of.targetHint': 's3://bucket/präfix oder webdav(s)://host/pfad (z. B. Nextcloud)',
    'of.endpoint': 'S3-Endpunkt',
    'of.endpointHint': 'Adresse des Dienstes, z. B. https://s3.eu-central-003.backblazeb2.com (leer: AWS)',
    'of.region': 'S3-Region',
    'of.pathStyle': 'Pfad-Adressierung (MinIO, Garage, SeaweedFS)',
    'of.key': 'Zugriffsschlüssel (S3) oder Benutzer (WebDAV)',
    'of.secret': 'Geheimer Schlüssel oder Passwort',
    'of.secretClear': 'Gespeicherte Zugangsdaten entfernen',
    'of.credsHint': 'In einer privaten Datei neben der Konfiguration gespeichert, nie in der Konfiguration selbst.',
    'of.recipients': 'Empfänger (öffentliche age-Schlüssel, einer pro Zeile)',
    'of.recipientsHint': 'age1…-Schlüssel von „keepwatch offsite keygen“. Die geheimen Identitäten nicht auf diesem Gerät aufbewahren.',
    'of.which': 'Was kopiert wird',
    'of.cameras': 'Kameras (keine angehakt: alle)',
    'of.events': 'Ereignisarten (keine angehakt: beide)',
    'of.what': 'Was',
    'of.what.both': 'Clip und Bild',
    'of.what.clip': 'Clip',
    'of.what.picture': 'Bild',
    'of.limits': 'Bandbreite und Aufbewahrung',
    'of.bandwidth': 'Bandbreitengrenze',
    'of.bandwidthHint': 'z. B. 2Mbit (leer: keine)',
    'of.keepCount': 'Höchstens behalten (Objekte)',
    'of.keepAge': 'Aufbewahren für',
    'of.keepAgeHint': 'z. B. 30d (leer: unbegrenzt)',
    'of.hideNames': 'Kameranamen und Zeiten in Objektnamen verbergen',
    'of.test': 'Testen',
    'of.testing': 'Wird getestet…',
    'of.testOk': 'Das Ziel funktioniert',
    'of.save': 'Speichern',
    'of.saving': 'Wird gespeichert…',
    'of.cancel': 'Abbrechen',
    'of.saved': 'Externes Ziel „{name}“ gespeichert',
    'of.bad.name': 'Nur a-z, 0-9 und - verwenden.',
    'of.bad.target': 'Geben Sie an, wohin die Kopien gehen.',
    'of.bad.recipients': 'Geben Sie mindestens einen age1…-Empfänger an.',
    'of.fail.auth': 'Schlüssel oder Geheimnis (Benutzer oder Passwort) falsch',
    'of.fail.tls': 'Die TLS-Verbindung ist fehlgeschlagen (Zertifikat?)',
    'of.fail.unreachable': 'Ziel nicht erreichbar',
    'of.fail.bucket': 'Der Bucket existiert nicht',
    'of.fail.timeout': 'Keine Antwort in der Zeit',
    'of.fail.invalid': 'Eine Einstellung ist ungültig',
    'of.fail.failed': 'Der Test ist fehlgeschlagen',
  },
};

const NAME_RE = /^[a-z0-9-]{1,64}$/;
const path = (name) => `/api/offsite/${encodeURIComponent(name)}`;

function blank() {
  return { name: '', target: '', endpoint: null, region: null, path_style: false, credentials: false, recipients: [],
    cameras: null, events: null, what: 'both', bandwidth: null, keep_count: null, keep_age: null, hide_names: false };
}

/** The localized headline of a failed test (`kind` from the server). */
function failHeadline(t, kind) {
  const key = `of.fail.${kind}`;
  return t(key) === key ? t('of.fail.failed') : t(key);
}

/** Runs a test (`body`: the form as typed, or undefined for the saved target) and shows it in `result`
 * (a forms.js testResult). */
export async function runOffsiteTest(ctx, name, body, result) {
  const { t } = ctx;
  result.busy(t('of.testing'));
  let r;
  try {
    r = await ctx.api(`${path(name)}/test`, body === undefined ? { method: 'POST' } : { method: 'POST', body });
  } catch (e) {
    r = { ok: false, kind: 'failed', error: e.message };
  }
  if (r.ok) {
    result.ok(h('div', { class: 'adm-headline' }, t('of.testOk')), h('div', { class: 'adm-muted' }, r.result));
  } else {
    result.fail(failHeadline(t, r.kind), r.error, r.kind);
  }
  return r;
}

/** Renders the form into `host` (`cfg`: the target's settings from GET /api/offsite, or null for a new one);
 * `done()` goes back to the list. */
export async function renderOffsiteForm(host, ctx, cfg, done) {
  const { t } = ctx;
  const isNew = !cfg;
  cfg = cfg || blank();
  const cams = await ctx.api('/api/cameras');
  const nameIn = textInput('of-name', cfg.name, { required: true, maxlength: 64 });
  const targetIn = textInput('of-target', cfg.target, { required: true, inputmode: 'url', placeholder: 's3://my-bucket/keepwatch' });
  const endpointIn = textInput('of-endpoint', cfg.endpoint, { inputmode: 'url', placeholder: 'https://s3.example.org' });
  const regionIn = textInput('of-region', cfg.region, { placeholder: 'us-east-1' });
  const pathStyleIn = checkbox('of-path-style', cfg.path_style);
  const keyIn = textInput('of-key', '', { placeholder: cfg.credentials ? t('form.secretStored') : '' });
  const secret = secretField({ label: t('of.secret'), testid: 'of-secret', errKey: 'secret',
    isSet: cfg.credentials, clearLabel: t('of.secretClear') });
  const recipientsIn = h('textarea', { 'data-testid': 'of-recipients', rows: 3, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'age1…', value: (cfg.recipients || []).join('\n') });
  const camChecks = checks('of-cam', cams.map((c) => c.name), cfg.cameras);
  const evChecks = checks('of-ev', EVENTS, cfg.events, (k) => t(`ev.k.${k}`) === `ev.k.${k}` ? k : t(`ev.k.${k}`));
  const whatSel = select('of-what', WHAT.map((w) => [w, t(`of.what.${w}`)]), cfg.what);
  const bandwidthIn = textInput('of-bandwidth', cfg.bandwidth, { placeholder: '2Mbit' });
  const keepCountIn = textInput('of-keep-count', cfg.keep_count ?? '', { inputmode: 'numeric' });
  const keepAgeIn = textInput('of-keep-age', cfg.keep_age, { placeholder: '30d' });
  const hideIn = checkbox('of-hide-names', cfg.hide_names);

  const body = () => {
    const b = {
      name: isNew ? nameIn.value.trim() : cfg.name,
      target: targetIn.value.trim(),
      endpoint: endpointIn.value.trim() || null,
      region: regionIn.value.trim() || null,
      path_style: pathStyleIn.checked,
      recipients: recipientsIn.value.split('\n').map((s) => s.trim()).filter(Boolean),
      cameras: camChecks.value(),
      events: evChecks.value(),
      what: whatSel.value,
      bandwidth: bandwidthIn.value.trim() || null,
      keep_count: keepCountIn.value.trim() || null,
      keep_age: keepAgeIn.value.trim() || null,
      hide_names: hideIn.checked,
    };
    const sec = secret.value();
    if (sec === '') { b.key = ''; b.secret = ''; } else {
      if (keyIn.value.trim()) b.key = keyIn.value.trim();
      if (sec !== undefined) b.secret = sec;
    }
    return b;
  };

  const result = testResult('of-test');
  const testBtn = actionButton(t('of.test'), 'of-test', () => runOffsiteTest(ctx, body().name || 'new', body(), result));

  const topErr = formError('of-form-error');
  const saveBtn = submitButton(t('of.save'), 'of-save');
  const form = h('form', { class: 'adm-form', novalidate: true, 'data-testid': 'of-form' },
    h('h2', null, isNew ? t('of.newTitle') : t('of.editTitle', { name: cfg.name })),
    topErr,
    fieldset(t('of.where'),
      field(t('of.name'), nameIn, isNew ? t('of.nameHint') : null, 'name'),
      field(t('of.target'), targetIn, t('of.targetHint'), 'target'),
      h('div', { class: 'adm-grid2' },
        field(t('of.endpoint'), endpointIn, t('of.endpointHint'), 'endpoint'),
        field(t('of.region'), regionIn, null, 'region')),
      checkLabel(pathStyleIn, t('of.pathStyle')),
      h('div', { class: 'adm-grid2' }, field(t('of.key'), keyIn, t('of.credsHint'), 'key'), secret.field),
      secret.clear,
      field(t('of.recipients'), recipientsIn, t('of.recipientsHint'), 'recipients'),
      h('div', { class: 'adm-actions' }, testBtn),
      result.node),
    fieldset(t('of.which'),
      group(t('of.cameras'), camChecks.node, 'cameras'),
      group(t('of.events'), evChecks.node, 'events'),
      field(t('of.what'), whatSel, null, 'what'),
      checkLabel(hideIn, t('of.hideNames'))),
    fieldset(t('of.limits'),
      h('div', { class: 'adm-grid2' },
        field(t('of.bandwidth'), bandwidthIn, t('of.bandwidthHint'), 'bandwidth'),
        field(t('of.keepCount'), keepCountIn, null, 'keep_count')),
      field(t('of.keepAge'), keepAgeIn, t('of.keepAgeHint'), 'keep_age')),
    h('div', { class: 'adm-actions' }, saveBtn,
      h('button', { type: 'button', class: 'btn', 'data-testid': 'of-cancel', onclick: () => done() }, t('of.cancel'))));
  if (!isNew) nameIn.disabled = true;

  onSubmit(form, {
    button: saveBtn,
    busyLabel: t('of.saving'),
    errorBox: topErr,
    check: () => {
      let good = true;
      if (isNew && !NAME_RE.test(nameIn.value.trim())) { setFieldError(form, 'name', t('of.bad.name')); good = false; }
      if (!targetIn.value.trim()) { setFieldError(form, 'target', t('of.bad.target')); good = false; }
      if (!recipientsIn.value.trim()) { setFieldError(form, 'recipients', t('of.bad.recipients')); good = false; }
      return good;
    },
    fieldOf: (e) => e.field || (e.status === 409 ? 'name' : null),
    send: async () => {
      const b = body();
      if (isNew) await ctx.api('/api/offsite', { method: 'POST', body: b });
      else await ctx.api(path(cfg.name), { method: 'PUT', body: b });
      ctx.toast(t('of.saved', { name: b.name }), 'ok');
      done();
    },
  });
  host.replaceChildren(form);
  if (isNew) nameIn.focus();
}
