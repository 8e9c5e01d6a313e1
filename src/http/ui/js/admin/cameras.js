// admin/cameras.js — camera settings (#/settings/cameras, admins): the list of cameras with their state, and
// the form that adds or edits one (connection with "test connection", recording, motion with its zones).
//
// Why it is shaped this way:
// - The config file is the one source of truth; this page only edits it through the API
//   (GET /api/cameras/{name}/config, POST/PUT/DELETE /api/cameras), so a hand-edited file and the UI never
//   disagree. Motion settings the form does not show are sent back as they came, so saving from the UI never
//   silently resets them.
// - Passwords are write-only (forms.js secretField): the server only says `has_password`; an empty field
//   keeps the stored one, and "test connection" on an existing camera names it so the server can use the
//   stored password.
// - "Test connection" is the first thing someone adding a camera needs: wrong password, unreachable and
//   unsupported codec are shown as a big localized headline with the server's exact message under it.
// - Motion zones are drawn on a real picture of the camera: the probe's first frame, else its latest
//   snapshot (the editor is admin/zones.js).
// - Fields, errors, buttons and the test result box come from admin/forms.js, shared by the admin pages.

import { h } from '../dom.js';
import { formStrings, field, textInput, checkbox, checkLabel, select, fieldset, secretField, formError,
  setFieldError, submitButton, onSubmit, deleteButton, actionButton, testResult, badge } from './forms.js';
import { zoneStrings, zoneEditor } from './zones.js';

const strings = {
  en: {
    ...formStrings.en,
    ...zoneStrings.en,
    'cams.title': 'Cameras',
    'cams.add': 'Add camera',
    'cams.none': 'No cameras yet. Add one to start recording.',
    'cams.edit': 'Edit',
    'cams.delete': 'Delete',
    'cams.deleteConfirm': 'Delete camera "{name}"? Its recordings stay until retention removes them.',
    'cams.deleted': 'Camera "{name}" deleted',
    'cams.saved': 'Camera "{name}" saved',
    'cams.status.streaming': 'streaming',
    'cams.status.connecting': 'connecting',
    'cams.status.offline': 'offline',
    'cams.recording': 'recording',
    'cams.notRecording': 'not recording',
    'cams.record.continuous': 'Continuous',
    'cams.record.motion': 'On motion',
    'cams.record.off': 'Off',
    'cams.record.objects': 'When objects are seen',
    'cams.section.objects': 'Object detection',
    'cams.f.objects': 'Look for people, vehicles and animals where motion is (uses more CPU)',
    'cams.f.track': 'Objects that count',
    'cams.f.minScore': 'Minimum certainty',
    'cams.f.alertOn': 'Alert on',
    'cams.alertOn.objects': 'Objects only',
    'cams.alertOn.motion': 'Any motion',
    'cams.f.maxPerSecond': 'Checks per second at most',
    'cams.l.person': 'Person',
    'cams.l.car': 'Vehicle',
    'cams.l.dog': 'Dog',
    'cams.l.cat': 'Cat',
    'cams.l.bird': 'Bird',
    'cams.f.model': 'Own model: {model}',
    'cams.newTitle': 'New camera',
    'cams.editTitle': 'Camera "{name}"',
    'cams.f.name': 'Name',
    'cams.f.nameHint': 'Lower-case letters, digits and -; used in addresses. Cannot be changed later.',
    'cams.f.url': 'Address',
    'cams.f.urlHint': 'rtsp://, http(s):// or onvif://',
    'cams.f.subUrl': 'Sub-stream address (optional)',
    'cams.f.subUrlHint': 'A low-resolution stream for motion detection and the grid view',
    'cams.f.username': 'User name',
    'cams.f.password': 'Password',
    'cams.f.passwordClear': 'Remove the stored password',
    'cams.f.record': 'Recording',
    'cams.f.maxAge': 'Keep at most (age)',
    'cams.f.maxAgeHint': 'e.g. 7d or 12h; empty: the store’s rule',
    'cams.f.maxSize': 'Keep at most (size)',
    'cams.f.maxSizeHint': 'e.g. 50GB; empty: the store’s rule',
    'cams.f.motion': 'Motion detection',
    'cams.f.sensitivity': 'Sensitivity',
    'cams.f.preRoll': 'Record before motion',
    'cams.f.preRollHint': 'with recording "On motion"; e.g. 5s',
    'cams.f.postRoll': 'Record after motion',
    'cams.f.postRollHint': 'e.g. 10s',
    'cams.f.minDuration': 'Ignore motion shorter than',
    'cams.f.minDurationHint': 'e.g. 1s; longer means fewer false alarms',
    'cams.f.keyframesOnly': 'Look at key frames only (less CPU, coarser)',
    'cams.section.connection': 'Connection',
    'cams.section.recording': 'Recording',
    'cams.section.motion': 'Motion',
    'cams.save': 'Save',
    'cams.cancel': 'Cancel',
    'cams.saving': 'Saving…',
    'cams.bad.name': 'Use lower-case letters, digits and - only.',
    'cams.bad.url': 'Enter the camera’s address, e.g. rtsp://192.168.1.20:554/stream1 (rtsp://, http(s):// or onvif://).',
    'cams.test': 'Test connection',
    'cams.testing': 'Testing… (up to 10 s)',
    'cams.probe.ok': 'Connected',
    'cams.probe.auth': 'Wrong user name or password',
    'cams.probe.unreachable': 'Camera unreachable',
    'cams.probe.unsupported': 'Unsupported codec or stream',
    'cams.probe.protocol': 'The camera answered in a way keepwatch does not understand',
    'cams.probe.timeout': 'No picture within 10 seconds',
    'cams.probe.bad_url': 'Invalid address',
    'cams.probe.refused': 'Cannot test these settings',
    'cams.probe.failed': 'Connection failed',
    'cams.probe.noSnapshot': 'No preview picture: {why}',
    'cams.probe.subOk': 'Sub-stream: {codec} · {res}',
    'cams.probe.subBad': 'Sub-stream failed: {why}',
    'cams.probe.certificate': 'The camera’s HTTPS certificate is not trusted',
    'cams.tls.seen': 'The camera presented this certificate (SHA-256 fingerprint). Compare it with the one on the camera’s own page if you can; trust it only if it is your camera’s.',
    'cams.tls.trust': 'Trust this certificate',
    'cams.tls.trusted': 'Certificate trusted for this camera; save to keep it.',
    'cams.f.tls': 'Trusted HTTPS certificate',
    'cams.f.tlsHint': 'Only for cameras with their own (self-signed) certificate: keepwatch then trusts exactly this one and refuses any other. Test the connection to see it; empty: the system’s certificate authorities decide.',
  },
  de: {
    ...formStrings.de,
    ...zoneStrings.de,
    'cams.title': 'Kameras',
    'cams.add': 'Kamera hinzufügen',
    'cams.none': 'Noch keine Kameras. Fügen Sie eine hinzu, um mit der Aufnahme zu beginnen.',
    'cams.edit': 'Bearbeiten',
    'cams.delete': 'Löschen',
    'cams.deleteConfirm': 'Kamera „{name}“ löschen? Ihre Aufnahmen bleiben, bis die Aufbewahrungsregel sie entfernt.',
    'cams.deleted': 'Kamera „{name}“ gelöscht',
    'cams.saved': 'Kamera „{name}“ gespeichert',
    'cams.status.streaming': 'verbunden',
    'cams.status.connecting': 'verbindet',
    'cams.status.offline': 'offline',
    'cams.recording': 'nimmt auf',
    'cams.notRecording': 'keine Aufnahme',
    'cams.record.continuous': 'Durchgehend',
    'cams.record.motion': 'Bei Bewegung',
    'cams.record.off': 'Aus',
    'cams.record.objects': 'Wenn Objekte erkannt werden',
    'cams.section.objects': 'Objekterkennung',
    'cams.f.objects': 'Nach Personen, Fahrzeugen und Tieren suchen, wo Bewegung ist (braucht mehr CPU)',
    'cams.f.track': 'Zählende Objekte',
    'cams.f.minScore': 'Mindestsicherheit',
    'cams.f.alertOn': 'Benachrichtigen bei',
    'cams.alertOn.objects': 'Nur Objekten',
    'cams.alertOn.motion': 'Jeder Bewegung',
    'cams.f.maxPerSecond': 'Höchstens Prüfungen pro Sekunde',
    'cams.l.person': 'Person',
    'cams.l.car': 'Fahrzeug',
    'cams.l.dog': 'Hund',
    'cams.l.cat': 'Katze',
    'cams.l.bird': 'Vogel',
    'cams.f.model': 'Eigenes Modell: {model}',
    'cams.newTitle': 'Neue Kamera',
    'cams.editTitle': 'Kamera „{name}“',
    'cams.f.name': 'Name',
    'cams.f.nameHint': 'Kleinbuchstaben, Ziffern und -; Teil der Adressen. Später nicht änderbar.',
    'cams.f.url': 'Adresse',
    'cams.f.urlHint': 'rtsp://, http(s):// oder onvif://',
    'cams.f.subUrl': 'Adresse des Sub-Streams (optional)',
    'cams.f.subUrlHint': 'Ein Stream mit niedriger Auflösung für Bewegungserkennung und Übersicht',
    'cams.f.username': 'Benutzername',
    'cams.f.password': 'Passwort',
    'cams.f.passwordClear': 'Gespeichertes Passwort entfernen',
    'cams.f.record': 'Aufnahme',
    'cams.f.maxAge': 'Höchstens aufbewahren (Alter)',
    'cams.f.maxAgeHint': 'z. B. 7d oder 12h; leer: Regel des Speichers',
    'cams.f.maxSize': 'Höchstens aufbewahren (Größe)',
    'cams.f.maxSizeHint': 'z. B. 50GB; leer: Regel des Speichers',
    'cams.f.motion': 'Bewegungserkennung',
    'cams.f.sensitivity': 'Empfindlichkeit',
    'cams.f.preRoll': 'Vorlauf vor der Bewegung',
    'cams.f.preRollHint': 'bei Aufnahme „Bei Bewegung“; z. B. 5s',
    'cams.f.postRoll': 'Nachlauf nach der Bewegung',
    'cams.f.postRollHint': 'z. B. 10s',
    'cams.f.minDuration': 'Kürzere Bewegung ignorieren als',
    'cams.f.minDurationHint': 'z. B. 1s; länger heißt weniger Fehlalarme',
    'cams.f.keyframesOnly': 'Nur Schlüsselbilder auswerten (weniger CPU, gröber)',
    'cams.section.connection': 'Verbindung',
    'cams.section.recording': 'Aufnahme',
    'cams.section.motion': 'Bewegung',
    'cams.save': 'Speichern',
    'cams.cancel': 'Abbrechen',
    'cams.saving': 'Wird gespeichert…',
    'cams.bad.name': 'Nur Kleinbuchstaben, Ziffern und - verwenden.',
    'cams.bad.url': 'Geben Sie die Adresse der Kamera ein, z. B. rtsp://192.168.1.20:554/stream1 (rtsp://, http(s):// oder onvif://).',
    'cams.test': 'Verbindung testen',
    'cams.testing': 'Wird getestet… (bis zu 10 s)',
    'cams.probe.ok': 'Verbunden',
    'cams.probe.auth': 'Falscher Benutzername oder falsches Passwort',
    'cams.probe.unreachable': 'Kamera nicht erreichbar',
    'cams.probe.unsupported': 'Codec oder Stream wird nicht unterstützt',
    'cams.probe.protocol': 'Die Kamera antwortet auf eine Weise, die keepwatch nicht versteht',
    'cams.probe.timeout': 'Kein Bild innerhalb von 10 Sekunden',
    'cams.probe.bad_url': 'Ungültige Adresse',
    'cams.probe.refused': 'Diese Einstellungen lassen sich nicht testen',
    'cams.probe.failed': 'Verbindung fehlgeschlagen',
    'cams.probe.noSnapshot': 'Kein Vorschaubild: {why}',
    'cams.probe.subOk': 'Substream: {codec} · {res}',
    'cams.probe.subBad': 'Substream fehlgeschlagen: {why}',
    'cams.probe.certificate': 'Dem HTTPS-Zertifikat der Kamera wird nicht vertraut',
    'cams.tls.seen': 'Die Kamera hat dieses Zertifikat vorgelegt (SHA-256-Fingerabdruck). Vergleichen Sie ihn nach Möglichkeit mit dem auf der Seite der Kamera; vertrauen Sie ihm nur, wenn er zu Ihrer Kamera gehört.',
    'cams.tls.trust': 'Diesem Zertifikat vertrauen',
    'cams.tls.trusted': 'Zertifikat für diese Kamera als vertrauenswürdig übernommen; zum Behalten speichern.',
    'cams.f.tls': 'Vertrauenswürdiges HTTPS-Zertifikat',
    'cams.f.tlsHint': 'Nur für Kameras mit eigenem (selbstsigniertem) Zertifikat: keepwatch vertraut dann genau diesem und lehnt jedes andere ab. „Verbindung testen“ zeigt es; leer: die Zertifizierungsstellen des Systems entscheiden.',
  },
};

const NAME_RE = /^[a-z0-9-]{1,64}$/;
// Only the shape; the server decides which schemes it takes (demo:// for the demo, for one).
const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;

function statusBadge(t, status) {
  const cls = status === 'streaming' ? 'ok' : status === 'offline' ? 'bad' : 'warn';
  const key = `cams.status.${status}`;
  return badge(t(key) === key ? status : t(key), cls, 'cam-status');
}

/** The parts of /api/cameras the list shows (frame counters change all the time and are left out). */
const listKey = (cams) => JSON.stringify(cams.map((c) =>
  [c.name, c.status, c.recording, c.record, c.codec, c.width, c.height, c.last_error, c.url]));

async function renderList(host, ctx, view, known) {
  const { t } = ctx;
  const cams = known || await ctx.api('/api/cameras');
  view.shown = listKey(cams);
  const list = h('div', { class: 'adm-list', 'data-testid': 'cams-list' });
  if (!cams.length) list.append(h('p', { class: 'adm-muted' }, t('cams.none')));
  for (const c of cams) {
    const res = c.width && c.height ? `${c.width}×${c.height}` : '';
    list.append(h('div', { class: 'adm-card', 'data-testid': `cam-row-${c.name}`, 'data-camera': c.name },
      h('div', { class: 'adm-row' },
        h('a', { href: `#/camera/${encodeURIComponent(c.name)}`, 'data-testid': `cam-open-${c.name}` }, h('strong', null, c.name)),
        statusBadge(t, c.status),
        badge(c.recording ? t('cams.recording') : t('cams.notRecording'), c.recording ? 'ok' : '')),
      h('div', { class: 'adm-row adm-muted' },
        [c.codec ? c.codec.toUpperCase() : null, res || null, t(`cams.record.${c.record}`)].filter(Boolean).join(' · ')),
      c.url ? h('div', { class: 'adm-muted' }, c.url) : null,
      c.last_error && c.status !== 'streaming' ? h('div', { class: 'adm-err' }, c.last_error) : null,
      h('div', { class: 'adm-actions' },
        h('button', { type: 'button', class: 'btn', 'data-testid': `cam-edit-${c.name}`, onclick: () => view.edit(c.name) }, t('cams.edit')),
        deleteButton(t('cams.delete'), `cam-delete-${c.name}`, t('cams.deleteConfirm', { name: c.name }), async () => {
          await ctx.api(`/api/cameras/${encodeURIComponent(c.name)}`, { method: 'DELETE' });
          ctx.toast(t('cams.deleted', { name: c.name }), 'ok');
          view.list();
        }))));
  }
  host.replaceChildren(
    h('div', { class: 'adm-bar' }, h('h2', null, t('cams.title')),
      h('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'cams-add', onclick: () => view.edit(null) }, t('cams.add'))),
    list);
}

function blankConfig() {
  return {
    name: '', url: '', sub_url: null, username: null, has_password: false, record: 'continuous',
    max_size: null, max_age: null,
    motion: { enabled: true, sensitivity: 0.5, min_duration: '1s', pre_roll: '5s', post_roll: '10s',
      keyframes_only: false, zones: [] },
    objects: { enabled: false, track: [...OBJECT_LABELS], min_score: 0.45, alert_on: 'objects', max_per_second: 2 },
  };
}

const OBJECT_LABELS = ['person', 'car', 'dog', 'cat', 'bird'];

async function renderForm(host, ctx, view, name) {
  const { t } = ctx;
  const isNew = name === null;
  const cfg = isNew ? blankConfig() : await ctx.api(`/api/cameras/${encodeURIComponent(name)}/config`);
  cfg.motion = { ...blankConfig().motion, ...(cfg.motion || {}) };
  cfg.objects = { ...blankConfig().objects, ...(cfg.objects || {}) };
  const zones = (cfg.motion.zones || []).map((z) => ({ ...z, points: z.points.map((p) => [...p]) }));

  const nameIn = textInput('cam-name', cfg.name, { disabled: !isNew, required: true, pattern: '[a-z0-9-]+', maxlength: 64 });
  const urlIn = textInput('cam-url', cfg.url, { required: true, inputmode: 'url', placeholder: 'rtsp://192.168.1.20:554/stream1' });
  const subIn = textInput('cam-sub-url', cfg.sub_url, { inputmode: 'url' });
  const userIn = textInput('cam-username', cfg.username);
  const tlsIn = textInput('cam-tls-fingerprint', cfg.tls_fingerprint, { placeholder: 'sha256:…' });
  const password = secretField({ label: t('cams.f.password'), testid: 'cam-password', errKey: 'password',
    isSet: cfg.has_password, clearLabel: t('cams.f.passwordClear') });
  const recordSel = select('cam-record', ['continuous', 'motion', 'off', 'objects'].map((m) => [m, t(`cams.record.${m}`)]),
    cfg.record || 'continuous');
  const ageIn = textInput('cam-max-age', cfg.max_age, { placeholder: '7d' });
  const sizeIn = textInput('cam-max-size', cfg.max_size, { placeholder: '50GB' });
  const motionIn = checkbox('cam-motion', cfg.motion.enabled);
  const num = new Intl.NumberFormat(document.documentElement.lang || 'en', { minimumFractionDigits: 2 });
  const sensOut = h('output', null, num.format(cfg.motion.sensitivity));
  const sensIn = h('input', { type: 'range', min: 0, max: 1, step: 0.05, 'data-testid': 'cam-sensitivity',
    'aria-label': t('cams.f.sensitivity'), value: String(cfg.motion.sensitivity),
    oninput: () => { sensOut.textContent = num.format(Number(sensIn.value)); } });

  const minDurIn = textInput('cam-min-duration', cfg.motion.min_duration, { placeholder: '1s' });
  const preIn = textInput('cam-pre-roll', cfg.motion.pre_roll, { placeholder: '5s' });
  const postIn = textInput('cam-post-roll', cfg.motion.post_roll, { placeholder: '10s' });
  const keyOnlyIn = checkbox('cam-keyframes-only', cfg.motion.keyframes_only);
  const objectsIn = checkbox('cam-objects', cfg.objects.enabled);
  const labelIns = OBJECT_LABELS.map((l) => [l, checkbox(`cam-track-${l}`, cfg.objects.track.includes(l))]);
  const scoreOut = h('output', null, num.format(cfg.objects.min_score));
  const scoreIn = h('input', { type: 'range', min: 0.05, max: 1, step: 0.05, 'data-testid': 'cam-min-score',
    'aria-label': t('cams.f.minScore'), value: String(cfg.objects.min_score),
    oninput: () => { scoreOut.textContent = num.format(Number(scoreIn.value)); } });
  const alertOnSel = select('cam-alert-on', ['objects', 'motion'].map((a) => [a, t(`cams.alertOn.${a}`)]),
    cfg.objects.alert_on || 'objects');
  const rateIn = h('input', { type: 'number', min: 0.1, max: 30, step: 0.1, 'data-testid': 'cam-max-per-second',
    value: String(cfg.objects.max_per_second) });

  // Test connection.
  const probe = testResult('cam-probe');
  const testBtn = actionButton(t('cams.test'), 'cam-test', () => runProbe());
  let picture = isNew ? null : `/api/cameras/${encodeURIComponent(cfg.name)}/snapshot.jpg?t=${Date.now()}`;
  let pictureSize = null;

  async function runProbe() {
    setFieldError(form, 'url', '');
    if (!URL_RE.test(urlIn.value.trim())) {
      setFieldError(form, 'url', t('cams.bad.url'));
      urlIn.focus();
      return;
    }
    const body = { url: urlIn.value.trim() };
    if (subIn.value.trim()) body.sub_url = subIn.value.trim();
    if (userIn.value.trim()) body.username = userIn.value.trim();
    if (password.value()) body.password = password.value();
    else if (!isNew && password.keepsStored()) body.camera = cfg.name;
    // What the field says, also when it was emptied ("": the system's authorities decide).
    body.tls_fingerprint = tlsIn.value.trim();
    probe.busy(t('cams.testing'));
    let r;
    try {
      r = await ctx.api('/api/cameras/probe', { method: 'POST', body });
    } catch (e) {
      // A 400 is the server refusing this test (e.g. a stored password asked to go to a new address): show
      // its own words, next to the field it names.
      r = { ok: false, kind: e.status === 400 ? 'refused' : null, error: e.message };
      if (e.status === 400 && e.field) setFieldError(form, e.field, e.message);
    }
    if (r.ok) {
      const codec = (r.codec || '').toUpperCase();
      const res = r.width && r.height ? `${r.width}×${r.height}` : '';
      probe.ok(
        h('div', { class: 'adm-headline' }, t('cams.probe.ok')),
        h('div', { 'data-testid': 'cam-probe-info' },
          h('span', { 'data-testid': 'cam-probe-codec' }, codec), res ? ' · ' : '',
          h('span', { 'data-testid': 'cam-probe-resolution' }, res)),
        r.sub ? h('div', { 'data-testid': 'cam-probe-sub', class: r.sub.ok ? '' : 'adm-err' },
          r.sub.ok ? t('cams.probe.subOk', { codec: (r.sub.codec || '').toUpperCase(), res: `${r.sub.width}×${r.sub.height}` })
            : t('cams.probe.subBad', { why: r.sub.error || '' })) : null,
        r.snapshot ? h('img', { src: r.snapshot, alt: '', 'data-testid': 'cam-probe-snapshot' })
          : h('div', { class: 'adm-muted' }, t('cams.probe.noSnapshot', { why: r.snapshot_error || '—' })));
      if (r.snapshot) {
        picture = r.snapshot;
        if (r.width && r.height) pictureSize = [r.width, r.height];
        zoneEd.setPicture(picture, pictureSize);
      }
    } else {
      const headline = r.kind && t(`cams.probe.${r.kind}`) !== `cams.probe.${r.kind}`
        ? t(`cams.probe.${r.kind}`) : t('cams.probe.failed');
      probe.fail(headline, r.error, r.kind);
      if (r.kind === 'certificate' && r.tls_fingerprint) probe.node.append(trustOffer(r.tls_fingerprint));
    }
  }

  // Trust on first use: the certificate the camera presented, offered to the admin to accept.
  function trustOffer(fingerprint) {
    const done = h('div', { class: 'adm-muted', role: 'status', 'data-testid': 'cam-tls-trusted' });
    return h('div', { class: 'adm-tls', 'data-testid': 'cam-tls-offer' },
      h('div', { class: 'adm-muted' }, t('cams.tls.seen')),
      h('code', { 'data-testid': 'cam-tls-seen' }, fingerprint),
      h('div', { class: 'adm-actions' },
        actionButton(t('cams.tls.trust'), 'cam-tls-trust', async () => {
          tlsIn.value = fingerprint;
          done.textContent = t('cams.tls.trusted');
          await runProbe();
        })),
      done);
  }

  const zoneEd = zoneEditor(zones, picture, !isNew && cfg.width && cfg.height ? [cfg.width, cfg.height] : null);

  const topErr = formError('cam-form-error');
  const saveBtn = submitButton(t('cams.save'), 'cam-save');
  const form = h('form', { class: 'adm-form', novalidate: true, 'data-testid': 'cam-form' },
    h('h2', null, isNew ? t('cams.newTitle') : t('cams.editTitle', { name: cfg.name })),
    topErr,
    fieldset(t('cams.section.connection'),
      field(t('cams.f.name'), nameIn, isNew ? t('cams.f.nameHint') : null, 'name'),
      field(t('cams.f.url'), urlIn, t('cams.f.urlHint'), 'url'),
      field(t('cams.f.subUrl'), subIn, t('cams.f.subUrlHint'), 'sub_url'),
      h('div', { class: 'adm-grid2' },
        field(t('cams.f.username'), userIn, null, 'username'),
        password.field),
      password.clear,
      field(t('cams.f.tls'), tlsIn, t('cams.f.tlsHint'), 'tls_fingerprint'),
      h('div', { class: 'adm-actions' }, testBtn),
      probe.node),
    fieldset(t('cams.section.recording'),
      field(t('cams.f.record'), recordSel, null, 'record'),
      h('div', { class: 'adm-grid2' },
        field(t('cams.f.maxAge'), ageIn, t('cams.f.maxAgeHint'), 'max_age'),
        field(t('cams.f.maxSize'), sizeIn, t('cams.f.maxSizeHint'), 'max_size'))),
    fieldset(t('cams.section.motion'),
      checkLabel(motionIn, t('cams.f.motion')),
      field(t('cams.f.sensitivity'), h('div', { class: 'adm-check' }, sensIn, sensOut), null, 'sensitivity'),
      h('div', { class: 'adm-grid2' },
        field(t('cams.f.preRoll'), preIn, t('cams.f.preRollHint'), 'pre_roll'),
        field(t('cams.f.postRoll'), postIn, t('cams.f.postRollHint'), 'post_roll')),
      field(t('cams.f.minDuration'), minDurIn, t('cams.f.minDurationHint'), 'min_duration'),
      checkLabel(keyOnlyIn, t('cams.f.keyframesOnly')),
      h('h3', null, t('cams.zones')),
      h('div', { class: 'adm-err', 'data-err': 'zones' }),
      zoneEd.node),
    fieldset(t('cams.section.objects'),
      checkLabel(objectsIn, t('cams.f.objects')),
      field(t('cams.f.track'), h('div', { class: 'adm-check' },
        labelIns.map(([l, box]) => checkLabel(box, t(`cams.l.${l}`)))), null, 'track'),
      field(t('cams.f.minScore'), h('div', { class: 'adm-check' }, scoreIn, scoreOut), null, 'min_score'),
      h('div', { class: 'adm-grid2' },
        field(t('cams.f.alertOn'), alertOnSel, null, 'alert_on'),
        field(t('cams.f.maxPerSecond'), rateIn, null, 'max_per_second')),
      cfg.objects.model ? h('p', { class: 'muted' }, t('cams.f.model', { model: cfg.objects.model })) : null),
    h('div', { class: 'adm-actions' }, saveBtn,
      h('button', { type: 'button', class: 'btn', 'data-testid': 'cam-cancel', onclick: () => view.list() }, t('cams.cancel'))));

  onSubmit(form, {
    button: saveBtn,
    busyLabel: t('cams.saving'),
    errorBox: topErr,
    check: () => {
      let good = true;
      if (isNew && !NAME_RE.test(nameIn.value.trim())) { setFieldError(form, 'name', t('cams.bad.name')); good = false; }
      if (!URL_RE.test(urlIn.value.trim())) { setFieldError(form, 'url', t('cams.bad.url')); good = false; }
      if (subIn.value.trim() && !URL_RE.test(subIn.value.trim())) { setFieldError(form, 'sub_url', t('cams.bad.url')); good = false; }
      return good;
    },
    // 409: the name is taken; everything else names its field (or goes to the top).
    fieldOf: (e) => e.field || (e.status === 409 && /exist/i.test(e.message) ? 'name' : null),
    send: async () => {
      const body = {
        name: isNew ? nameIn.value.trim() : cfg.name,
        url: urlIn.value.trim(),
        sub_url: subIn.value.trim() || null,
        username: userIn.value.trim() || null,
        record: recordSel.value,
        max_age: ageIn.value.trim() || null,
        max_size: sizeIn.value.trim() || null,
        tls_fingerprint: tlsIn.value.trim(),
        motion: {
          ...cfg.motion,
          enabled: motionIn.checked,
          sensitivity: Number(sensIn.value),
          min_duration: minDurIn.value.trim() || null,
          pre_roll: preIn.value.trim() || null,
          post_roll: postIn.value.trim() || null,
          keyframes_only: keyOnlyIn.checked,
          zones: zoneEd.zones().map((z) => ({ name: z.name, kind: z.kind, points: z.points })),
        },
        objects: {
          enabled: objectsIn.checked,
          // labels of a user's own model that this form does not list are kept
          track: [...cfg.objects.track.filter((l) => !OBJECT_LABELS.includes(l)),
            ...labelIns.filter(([, box]) => box.checked).map(([l]) => l)],
          min_score: Number(scoreIn.value),
          alert_on: alertOnSel.value,
          max_per_second: Number(rateIn.value),
        },
      };
      const pw = password.value();
      if (pw !== undefined) body.password = pw;
      if (isNew) await ctx.api('/api/cameras', { method: 'POST', body });
      else await ctx.api(`/api/cameras/${encodeURIComponent(cfg.name)}`, { method: 'PUT', body });
      ctx.toast(t('cams.saved', { name: body.name }), 'ok');
      view.list();
    },
  });

  host.replaceChildren(form);
  if (isNew) nameIn.focus();
}

export default {
  path: 'settings/cameras',
  nav: 'nav.cameras',
  admin: true,
  strings,
  async render(root, ctx) {
    const host = h('div', { class: 'adm', 'data-testid': 'page-admin-cameras' });
    // A failed status refresh of the list is said above it (the list stays as it was).
    const stale = h('p', { class: 'adm adm-err', role: 'status', 'data-testid': 'cams-stale' });
    root.append(stale, host);
    let alive = true;
    const view = {
      mode: 'list',
      shown: null,
      list: () => { view.mode = 'list'; stale.textContent = ''; return alive && renderList(host, ctx, view).catch((e) => showFail(host, e)); },
      edit: (name) => { view.mode = 'edit'; stale.textContent = ''; return alive && renderForm(host, ctx, view, name).catch((e) => showFail(host, e)); },
    };
    await view.list();
    // Statuses change (a new camera connects, one goes offline): redraw the list when what it shows
    // changed, never while a delete question is open or the form is shown.
    const timer = setInterval(async () => {
      if (view.mode !== 'list' || document.hidden || host.querySelector('.adm-confirm')) return;
      try {
        const cams = await ctx.api('/api/cameras');
        stale.textContent = '';
        if (alive && view.mode === 'list' && listKey(cams) !== view.shown && !host.querySelector('.adm-confirm')) {
          await renderList(host, ctx, view, cams);
        }
      } catch (e) {
        // The next tick tries again; the shell handles 401.
        if (alive && view.mode === 'list') stale.textContent = ctx.t('err.refresh', { msg: e.message });
      }
    }, 4000);
    return () => { alive = false; clearInterval(timer); };
  },
};

function showFail(host, e) {
  host.replaceChildren(h('div', { class: 'adm-err', role: 'alert' }, e.message || String(e)));
}
