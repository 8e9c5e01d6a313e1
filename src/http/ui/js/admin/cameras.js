// Camera settings (#/settings/cameras, admins): the list of cameras with their state, and the form that adds
// or edits one.
//
// Why it is shaped this way:
// - The config file is the one source of truth; this page only edits it through the API
//   (GET /api/cameras/{name}/config, POST/PUT/DELETE /api/cameras), so a hand-edited file and the UI never
//   disagree. Fields the form does not show (min_duration, pre/post-roll, keyframes_only) are sent back as
//   they came, so saving from the UI never silently resets them.
// - Passwords are write-only: the server only says `has_password`; an empty field keeps the stored one, and
//   "test connection" on an existing camera names it so the server can use the stored password.
// - "Test connection" is the first thing someone adding a camera needs: wrong password, unreachable and
//   unsupported codec are shown as a big localized headline with the server's exact message under it.
// - Motion zones are drawn on a real picture of the camera (the probe's first frame, else its latest
//   snapshot) with SVG over the image; coordinates are 0..1 of the picture, which is what the config stores.
// - Shared admin bits (the admin style sheet, an inline confirm that works on phones, mapping a server 400 to
//   the field it names) live here and are imported by the other admin pages, so there is one copy of each.

const SVG_NS = 'http://www.w3.org/2000/svg';

const strings = {
  en: {
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
    'cams.f.passwordStored': 'stored — leave empty to keep it',
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
    'cams.probe.failed': 'Connection failed',
    'cams.probe.noSnapshot': 'No preview picture: {why}',
    'cams.probe.subOk': 'Sub-stream: {codec} · {res}',
    'cams.probe.subBad': 'Sub-stream failed: {why}',
    'cams.zones': 'Motion zones',
    'cams.zones.hint': 'Click or tap on the picture to add points, then close the polygon; drag a corner to move it. Include zones limit detection to their area; exclude zones ignore theirs.',
    'cams.zones.noPicture': 'Test the connection to get a picture to draw on.',
    'cams.zones.new': 'Draw a zone',
    'cams.zones.close': 'Close polygon',
    'cams.zones.undo': 'Undo point',
    'cams.zones.cancel': 'Stop drawing',
    'cams.zones.drawing': 'Drawing: {n} points (at least 3)',
    'cams.zones.none': 'No zones: the whole picture counts.',
    'cams.zones.name': 'Zone name',
    'cams.zones.include': 'Include',
    'cams.zones.exclude': 'Exclude',
    'cams.zones.kind': 'Zone kind',
    'cams.zones.delete': 'Delete zone',
    'cams.confirm': 'Yes',
    'cams.dismiss': 'No',
  },
  de: {
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
    'cams.f.passwordStored': 'gespeichert – leer lassen, um es zu behalten',
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
    'cams.probe.failed': 'Verbindung fehlgeschlagen',
    'cams.probe.noSnapshot': 'Kein Vorschaubild: {why}',
    'cams.probe.subOk': 'Substream: {codec} · {res}',
    'cams.probe.subBad': 'Substream fehlgeschlagen: {why}',
    'cams.zones': 'Bewegungszonen',
    'cams.zones.hint': 'Tippen oder klicken Sie auf das Bild, um Punkte zu setzen, und schließen Sie dann das Vieleck; ziehen Sie eine Ecke, um sie zu verschieben. Einschlusszonen beschränken die Erkennung auf ihre Fläche, Ausschlusszonen blenden ihre Fläche aus.',
    'cams.zones.noPicture': 'Testen Sie die Verbindung, um ein Bild zum Zeichnen zu erhalten.',
    'cams.zones.new': 'Zone zeichnen',
    'cams.zones.close': 'Vieleck schließen',
    'cams.zones.undo': 'Punkt zurücknehmen',
    'cams.zones.cancel': 'Zeichnen beenden',
    'cams.zones.drawing': 'Zeichnen: {n} Punkte (mindestens 3)',
    'cams.zones.none': 'Keine Zonen: das ganze Bild zählt.',
    'cams.zones.name': 'Name der Zone',
    'cams.zones.include': 'Einschließen',
    'cams.zones.exclude': 'Ausschließen',
    'cams.zones.kind': 'Art der Zone',
    'cams.zones.delete': 'Zone löschen',
    'cams.confirm': 'Ja',
    'cams.dismiss': 'Nein',
  },
};

// ---------------------------------------------------------------------------------------------------------
// Shared by the admin pages (imported by alerts.js, users.js and system.js).

/** Makes sure the admin pages' style sheet (/ui/admin.css, linked by index.html) is there. It is a file, not
 * a <style> element, because the page's CSP allows style sheets from this server only. */
export function adminStyle() {
  if (document.querySelector('link[href="/ui/admin.css"]')) return;
  document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/ui/admin.css' }));
}

/** An element with properties/attributes and children; event handlers as `onclick` etc. Independent of
 * ctx.h so the SVG and form code here does not depend on the builder's details. */
export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  setAttrs(n, attrs);
  append(n, children);
  return n;
}

function setAttrs(n, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (k === 'class') n.setAttribute('class', v);
    // Through the CSSOM: the page's CSP refuses style="" attributes.
    else if (k === 'style') n.style.cssText = String(v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden') n[k] = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(n, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function svg(tag, attrs) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, String(v));
  }
  return n;
}

/** A labelled form field: label text, the control, an optional hint, and a place for its error. */
export function field(label, control, hint, errKey) {
  return el('label', { class: 'adm-field' },
    el('span', null, label), control, hint ? el('small', null, hint) : null,
    el('div', { class: 'adm-err', 'data-err': errKey || '', 'data-testid': errKey ? `err-${errKey}` : null }));
}

/** Shows an inline "are you sure" box before `box`'s content; resolves true on yes. Native confirm() is
 * avoided: it blocks, looks foreign on phones and cannot be translated. */
export function confirmInline(host, message, t, testid) {
  return new Promise((resolve) => {
    host.querySelectorAll(':scope > .adm-confirm').forEach((n) => n.remove());
    const done = (v) => { box.remove(); resolve(v); };
    const box = el('div', { class: 'adm-confirm', role: 'alertdialog', 'data-testid': testid || 'confirm' },
      el('div', null, message),
      el('div', { class: 'adm-actions' },
        el('button', { type: 'button', class: 'btn adm-danger', 'data-testid': 'confirm-yes', onclick: () => done(true) },
          t('cams.confirm')),
        el('button', { type: 'button', class: 'btn', 'data-testid': 'confirm-no', onclick: () => done(false) }, t('cams.dismiss'))));
    host.prepend(box);
    box.scrollIntoView({ block: 'nearest' });
    box.querySelector('button').focus();
  });
}

/** Puts a server error next to the field it names (`{"error": "max_age: ..."}` → the max_age field's error
 * line); returns false when no field on the form matches, so the caller shows it at the top. */
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

export function clearErrors(form) {
  form.querySelectorAll('.adm-err').forEach((n) => { n.textContent = ''; });
}

// ---------------------------------------------------------------------------------------------------------
// The page.

const NAME_RE = /^[a-z0-9-]{1,64}$/;
// Only the shape; the server decides which schemes it takes (demo:// for the demo, for one).
const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;

function statusBadge(t, status) {
  const cls = status === 'streaming' ? 'ok' : status === 'offline' ? 'bad' : 'warn';
  return el('span', { class: `adm-badge ${cls}`, 'data-testid': 'cam-status' }, t(`cams.status.${status}`) === `cams.status.${status}` ? status : t(`cams.status.${status}`));
}

/** The parts of /api/cameras the list shows (frame counters change all the time and are left out). */
const listKey = (cams) => JSON.stringify(cams.map((c) =>
  [c.name, c.status, c.recording, c.record, c.codec, c.width, c.height, c.last_error, c.url]));

async function renderList(el0, ctx, view, known) {
  const { t } = ctx;
  const cams = known || await ctx.api('/api/cameras');
  view.shown = listKey(cams);
  const list = el('div', { class: 'adm-list', 'data-testid': 'cams-list' });
  if (!cams.length) list.append(el('p', { class: 'adm-muted' }, t('cams.none')));
  for (const c of cams) {
    const res = c.width && c.height ? `${c.width}×${c.height}` : '';
    const card = el('div', { class: 'adm-card', 'data-testid': `cam-row-${c.name}`, 'data-camera': c.name },
      el('div', { class: 'adm-row' },
        el('a', { href: `#/camera/${encodeURIComponent(c.name)}`, 'data-testid': `cam-open-${c.name}` }, el('strong', null, c.name)),
        statusBadge(t, c.status),
        el('span', { class: `adm-badge ${c.recording ? 'ok' : ''}` }, c.recording ? t('cams.recording') : t('cams.notRecording'))),
      el('div', { class: 'adm-row adm-muted' },
        [c.codec ? c.codec.toUpperCase() : null, res || null, t(`cams.record.${c.record}`)].filter(Boolean).join(' · ')),
      c.url ? el('div', { class: 'adm-muted' }, c.url) : null,
      c.last_error && c.status !== 'streaming' ? el('div', { class: 'adm-err' }, c.last_error) : null,
      el('div', { class: 'adm-actions' },
        el('button', { type: 'button', class: 'btn', 'data-testid': `cam-edit-${c.name}`, onclick: () => view.edit(c.name) }, t('cams.edit')),
        el('button', { type: 'button', class: 'btn adm-danger', 'data-testid': `cam-delete-${c.name}`,
          onclick: async () => {
            if (!(await confirmInline(card, t('cams.deleteConfirm', { name: c.name }), t))) return;
            try {
              await ctx.api(`/api/cameras/${encodeURIComponent(c.name)}`, { method: 'DELETE' });
              ctx.toast(t('cams.deleted', { name: c.name }), 'ok');
              view.list();
            } catch (e) { ctx.toast(e.message, 'error'); }
          } }, t('cams.delete'))));
    list.append(card);
  }
  el0.replaceChildren(
    el('div', { class: 'adm-bar' }, el('h2', null, t('cams.title')),
      el('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'cams-add', onclick: () => view.edit(null) }, t('cams.add'))),
    list);
}

function blankConfig() {
  return {
    name: '', url: '', sub_url: null, username: null, has_password: false, record: 'continuous',
    max_size: null, max_age: null,
    motion: { enabled: true, sensitivity: 0.5, min_duration: '1s', pre_roll: '5s', post_roll: '10s',
      keyframes_only: false, zones: [] },
  };
}

async function renderForm(host, ctx, view, name) {
  const { t } = ctx;
  const isNew = name === null;
  const cfg = isNew ? blankConfig() : await ctx.api(`/api/cameras/${encodeURIComponent(name)}/config`);
  cfg.motion = { ...blankConfig().motion, ...(cfg.motion || {}) };
  const zones = (cfg.motion.zones || []).map((z) => ({ ...z, points: z.points.map((p) => [...p]) }));

  const input = (id, value, attrs) => el('input', { 'data-testid': id, value: value ?? '', autocomplete: 'off',
    autocapitalize: 'off', spellcheck: 'false', ...attrs });
  const nameIn = input('cam-name', cfg.name, { disabled: !isNew, required: true, pattern: '[a-z0-9-]+', maxlength: 64 });
  const urlIn = input('cam-url', cfg.url, { required: true, inputmode: 'url', placeholder: 'rtsp://192.168.1.20:554/stream1' });
  const subIn = input('cam-sub-url', cfg.sub_url, { inputmode: 'url' });
  const userIn = input('cam-username', cfg.username);
  const pwIn = input('cam-password', '', { type: 'password', autocomplete: 'new-password',
    placeholder: cfg.has_password ? t('cams.f.passwordStored') : '' });
  const pwClear = el('input', { type: 'checkbox', 'data-testid': 'cam-password-clear' });
  const recordSel = el('select', { 'data-testid': 'cam-record' },
    ['continuous', 'motion', 'off'].map((m) => el('option', { value: m }, t(`cams.record.${m}`))));
  recordSel.value = cfg.record || 'continuous';
  const ageIn = input('cam-max-age', cfg.max_age, { placeholder: '7d' });
  const sizeIn = input('cam-max-size', cfg.max_size, { placeholder: '50GB' });
  const motionIn = el('input', { type: 'checkbox', 'data-testid': 'cam-motion', checked: !!cfg.motion.enabled });
  const num = new Intl.NumberFormat(document.documentElement.lang || 'en', { minimumFractionDigits: 2 });
  const sensOut = el('output', null, num.format(cfg.motion.sensitivity));
  const sensIn = el('input', { type: 'range', min: 0, max: 1, step: 0.05, 'data-testid': 'cam-sensitivity',
    'aria-label': t('cams.f.sensitivity'), value: String(cfg.motion.sensitivity),
    oninput: () => { sensOut.textContent = num.format(Number(sensIn.value)); } });

  const minDurIn = input('cam-min-duration', cfg.motion.min_duration, { placeholder: '1s' });
  const preIn = input('cam-pre-roll', cfg.motion.pre_roll, { placeholder: '5s' });
  const postIn = input('cam-post-roll', cfg.motion.post_roll, { placeholder: '10s' });
  const keyOnlyIn = el('input', { type: 'checkbox', 'data-testid': 'cam-keyframes-only', checked: !!cfg.motion.keyframes_only });

  // Test connection.
  const probeBox = el('div', { 'data-testid': 'cam-probe-result', 'aria-live': 'polite' });
  const testBtn = el('button', { type: 'button', class: 'btn', 'data-testid': 'cam-test', onclick: () => runProbe() }, t('cams.test'));
  let picture = isNew ? null : `/api/cameras/${encodeURIComponent(cfg.name)}/snapshot.jpg?t=${Date.now()}`;
  let pictureSize = null;

  async function runProbe() {
    const urlErr = form.querySelector('[data-err="url"]');
    urlErr.textContent = '';
    if (!URL_RE.test(urlIn.value.trim())) {
      urlErr.textContent = t('cams.bad.url');
      urlIn.focus();
      return;
    }
    const body = { url: urlIn.value.trim() };
    if (subIn.value.trim()) body.sub_url = subIn.value.trim();
    if (userIn.value.trim()) body.username = userIn.value.trim();
    if (pwIn.value) body.password = pwIn.value;
    else if (!isNew && cfg.has_password && !pwClear.checked) body.camera = cfg.name;
    testBtn.disabled = true;
    probeBox.className = 'adm-probe';
    probeBox.replaceChildren(el('div', { class: 'adm-muted' }, t('cams.testing')));
    let r;
    try {
      r = await ctx.api('/api/cameras/probe', { method: 'POST', body });
    } catch (e) {
      r = { ok: false, kind: e.status === 400 ? 'bad_url' : null, error: e.message };
    } finally {
      testBtn.disabled = false;
    }
    if (r.ok) {
      const codec = (r.codec || '').toUpperCase();
      const res = r.width && r.height ? `${r.width}×${r.height}` : '';
      probeBox.className = 'adm-probe ok';
      probeBox.dataset.ok = 'true';
      probeBox.replaceChildren(
        el('div', { class: 'adm-headline' }, t('cams.probe.ok')),
        el('div', { 'data-testid': 'cam-probe-info' },
          el('span', { 'data-testid': 'cam-probe-codec' }, codec), res ? ' · ' : '',
          el('span', { 'data-testid': 'cam-probe-resolution' }, res)),
        r.sub ? el('div', { 'data-testid': 'cam-probe-sub', class: r.sub.ok ? '' : 'adm-err' },
          r.sub.ok ? t('cams.probe.subOk', { codec: (r.sub.codec || '').toUpperCase(), res: `${r.sub.width}×${r.sub.height}` })
            : t('cams.probe.subBad', { why: r.sub.error || '' })) : null,
        r.snapshot ? el('img', { src: r.snapshot, alt: '', 'data-testid': 'cam-probe-snapshot' })
          : el('div', { class: 'adm-muted' }, t('cams.probe.noSnapshot', { why: r.snapshot_error || '—' })));
      if (r.snapshot) {
        picture = r.snapshot;
        if (r.width && r.height) pictureSize = [r.width, r.height];
        zoneEditor.setPicture(picture, pictureSize);
      }
    } else {
      const headline = r.kind && t(`cams.probe.${r.kind}`) !== `cams.probe.${r.kind}`
        ? t(`cams.probe.${r.kind}`) : t('cams.probe.failed');
      probeBox.className = 'adm-probe bad';
      probeBox.dataset.ok = 'false';
      probeBox.replaceChildren(
        el('div', { class: 'adm-headline', role: 'alert', 'data-testid': 'cam-probe-error', 'data-kind': r.kind || '' }, headline),
        el('div', { class: 'adm-muted', 'data-testid': 'cam-probe-detail' }, r.error || ''));
    }
  }

  const zoneEditor = makeZoneEditor(ctx, zones, picture,
    !isNew && cfg.width && cfg.height ? [cfg.width, cfg.height] : null);

  const topErr = el('div', { class: 'adm-err', role: 'alert', 'data-testid': 'cam-form-error' });
  const saveBtn = el('button', { type: 'submit', class: 'btn btn-primary adm-primary', 'data-testid': 'cam-save' }, t('cams.save'));
  const form = el('form', { class: 'adm-form', novalidate: true, 'data-testid': 'cam-form' },
    el('h2', null, isNew ? t('cams.newTitle') : t('cams.editTitle', { name: cfg.name })),
    topErr,
    el('fieldset', null, el('legend', null, t('cams.section.connection')),
      field(t('cams.f.name'), nameIn, isNew ? t('cams.f.nameHint') : null, 'name'),
      field(t('cams.f.url'), urlIn, t('cams.f.urlHint'), 'url'),
      field(t('cams.f.subUrl'), subIn, t('cams.f.subUrlHint'), 'sub_url'),
      el('div', { class: 'adm-grid2' },
        field(t('cams.f.username'), userIn, null, 'username'),
        field(t('cams.f.password'), pwIn, cfg.has_password ? t('cams.f.passwordStored') : null, 'password')),
      cfg.has_password ? el('label', { class: 'adm-check' }, pwClear, t('cams.f.passwordClear')) : null,
      el('div', { class: 'adm-actions' }, testBtn),
      probeBox),
    el('fieldset', null, el('legend', null, t('cams.section.recording')),
      field(t('cams.f.record'), recordSel, null, 'record'),
      el('div', { class: 'adm-grid2' },
        field(t('cams.f.maxAge'), ageIn, t('cams.f.maxAgeHint'), 'max_age'),
        field(t('cams.f.maxSize'), sizeIn, t('cams.f.maxSizeHint'), 'max_size'))),
    el('fieldset', null, el('legend', null, t('cams.section.motion')),
      el('label', { class: 'adm-check' }, motionIn, t('cams.f.motion')),
      field(t('cams.f.sensitivity'), el('div', { class: 'adm-check' }, sensIn, sensOut), null, 'sensitivity'),
      el('div', { class: 'adm-grid2' },
        field(t('cams.f.preRoll'), preIn, t('cams.f.preRollHint'), 'pre_roll'),
        field(t('cams.f.postRoll'), postIn, t('cams.f.postRollHint'), 'post_roll')),
      field(t('cams.f.minDuration'), minDurIn, t('cams.f.minDurationHint'), 'min_duration'),
      el('label', { class: 'adm-check' }, keyOnlyIn, t('cams.f.keyframesOnly')),
      el('h3', null, t('cams.zones')),
      el('div', { class: 'adm-err', 'data-err': 'zones' }),
      zoneEditor.node),
    el('div', { class: 'adm-actions' }, saveBtn,
      el('button', { type: 'button', class: 'btn', 'data-testid': 'cam-cancel', onclick: () => view.list() }, t('cams.cancel'))));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const nm = nameIn.value.trim();
    const url = urlIn.value.trim();
    let bad = false;
    if (isNew && !NAME_RE.test(nm)) { form.querySelector('[data-err="name"]').textContent = t('cams.bad.name'); bad = true; }
    if (!URL_RE.test(url)) { form.querySelector('[data-err="url"]').textContent = t('cams.bad.url'); bad = true; }
    if (subIn.value.trim() && !URL_RE.test(subIn.value.trim())) {
      form.querySelector('[data-err="sub_url"]').textContent = t('cams.bad.url'); bad = true;
    }
    if (bad) { form.querySelector('.adm-err:not(:empty)')?.scrollIntoView({ block: 'center' }); return; }
    const body = {
      name: isNew ? nm : cfg.name,
      url,
      sub_url: subIn.value.trim() || null,
      username: userIn.value.trim() || null,
      record: recordSel.value,
      max_age: ageIn.value.trim() || null,
      max_size: sizeIn.value.trim() || null,
      motion: {
        ...cfg.motion,
        enabled: motionIn.checked,
        sensitivity: Number(sensIn.value),
        min_duration: minDurIn.value.trim() || null,
        pre_roll: preIn.value.trim() || null,
        post_roll: postIn.value.trim() || null,
        keyframes_only: keyOnlyIn.checked,
        zones: zoneEditor.zones().map((z) => ({ name: z.name, kind: z.kind, points: z.points })),
      },
    };
    if (pwIn.value) body.password = pwIn.value;
    else if (pwClear.checked) body.password = '';
    saveBtn.disabled = true;
    saveBtn.textContent = t('cams.saving');
    try {
      if (isNew) await ctx.api('/api/cameras', { method: 'POST', body });
      else await ctx.api(`/api/cameras/${encodeURIComponent(cfg.name)}`, { method: 'PUT', body });
      ctx.toast(t('cams.saved', { name: body.name }), 'ok');
      view.list();
    } catch (e) {
      // 409: the name is taken; everything else names its field (or goes to the top).
      if (!showFieldError(form, e.message, e.field || (e.status === 409 && /exist/i.test(e.message) ? 'name' : null))) {
        topErr.textContent = e.message;
        topErr.scrollIntoView({ block: 'center' });
      }
    } finally {
      saveBtn.disabled = false;
      saveBtn.textContent = t('cams.save');
    }
  });

  host.replaceChildren(form);
  if (isNew) nameIn.focus();
}

// ---------------------------------------------------------------------------------------------------------
// Zone editor: an SVG over the picture. The SVG's viewBox is the picture's own aspect (1000 × 1000·h/w) so
// circles stay round; points are stored as 0..1 of width and height, rounded to 1/1000.

function makeZoneEditor(ctx, zones, picture, size) {
  const { t } = ctx;
  let drawing = null; // points of the polygon being drawn, or null
  let vw = 1000;
  let vh = size ? Math.round((1000 * size[1]) / size[0]) : 563;

  const img = el('img', { alt: '', 'data-testid': 'zone-picture' });
  const placeholder = el('div', { class: 'adm-placeholder' }, t('cams.zones.noPicture'));
  const surface = svg('svg', { 'data-testid': 'zone-svg', viewBox: `0 0 ${vw} ${vh}`, preserveAspectRatio: 'none' });
  const stage = el('div', { class: 'adm-zones', 'data-testid': 'zone-editor' }, img, placeholder, surface);
  stage.style.aspectRatio = `${vw} / ${vh}`;
  const status = el('div', { class: 'adm-muted', 'data-testid': 'zone-status' });
  const list = el('div', { class: 'adm-form', 'data-testid': 'zone-list' });
  const newBtn = el('button', { type: 'button', class: 'btn', 'data-testid': 'zone-new', onclick: () => { drawing = []; redraw(); } },
    t('cams.zones.new'));
  const closeBtn = el('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'zone-close', onclick: () => closePolygon() },
    t('cams.zones.close'));
  const undoBtn = el('button', { type: 'button', class: 'btn', 'data-testid': 'zone-undo',
    onclick: () => { drawing?.pop(); redraw(); } }, t('cams.zones.undo'));
  const cancelBtn = el('button', { type: 'button', class: 'btn', 'data-testid': 'zone-cancel', onclick: () => { drawing = null; redraw(); } },
    t('cams.zones.cancel'));

  function setPicture(src, sz) {
    if (!src) return;
    img.onload = () => {
      const w = sz ? sz[0] : img.naturalWidth;
      const h = sz ? sz[1] : img.naturalHeight;
      if (w > 0 && h > 0) {
        vh = Math.round((1000 * h) / w);
        surface.setAttribute('viewBox', `0 0 ${vw} ${vh}`);
        stage.style.aspectRatio = `${vw} / ${vh}`;
        redraw();
      }
      placeholder.hidden = true;
    };
    img.onerror = () => { placeholder.hidden = false; };
    img.src = src;
  }

  const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

  // Corners of finished zones are handles: drag one to move it (mouse, pen or finger). The click that ends a
  // drag must not start a new polygon.
  let drag = null;
  let dragged = false;
  surface.addEventListener('pointerdown', (ev) => {
    const handle = ev.target.closest?.('[data-handle]');
    dragged = false;
    if (!handle || drawing) return;
    const [zi, pi] = handle.dataset.handle.split(':').map(Number);
    drag = { zi, pi };
    surface.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
  });
  surface.addEventListener('pointermove', (ev) => {
    if (!drag || !zones[drag.zi]) return;
    const r = surface.getBoundingClientRect();
    zones[drag.zi].points[drag.pi] = [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
    dragged = true;
    redraw();
  });
  const endDrag = () => { drag = null; };
  surface.addEventListener('pointerup', endDrag);
  surface.addEventListener('pointercancel', endDrag);

  surface.addEventListener('click', (ev) => {
    if (dragged || ev.target.closest?.('[data-handle]')) { dragged = false; return; }
    if (!drawing) drawing = [];
    const r = surface.getBoundingClientRect();
    const p = [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
    // A click on the first point closes the polygon.
    if (drawing.length >= 3) {
      const [fx, fy] = drawing[0];
      if (Math.hypot((fx - p[0]) * r.width, (fy - p[1]) * r.height) < 14) { closePolygon(); return; }
    }
    drawing.push(p);
    redraw();
  });

  function closePolygon() {
    if (!drawing || drawing.length < 3) return;
    let n = zones.length + 1;
    while (zones.some((z) => z.name === `zone-${n}`)) n++;
    zones.push({ name: `zone-${n}`, kind: 'include', points: drawing });
    drawing = null;
    redraw();
    list.querySelector('.adm-zone-row:last-child input')?.focus();
  }

  const colour = (kind) => (kind === 'exclude' ? '#e55' : '#3c9');
  const pts = (points) => points.map(([x, y]) => `${x * vw},${y * vh}`).join(' ');

  function redraw() {
    surface.replaceChildren();
    zones.forEach((z, i) => {
      surface.append(svg('polygon', { points: pts(z.points), fill: colour(z.kind), 'fill-opacity': 0.3,
        stroke: colour(z.kind), 'stroke-width': 3, 'vector-effect': 'non-scaling-stroke', 'data-zone': i }));
    });
    if (!drawing) {
      zones.forEach((z, i) => z.points.forEach(([x, y], j) => surface.append(svg('circle', { cx: x * vw, cy: y * vh,
        r: 10, fill: '#fff', 'fill-opacity': 0.85, stroke: colour(z.kind), 'stroke-width': 3,
        'vector-effect': 'non-scaling-stroke', class: 'adm-handle', 'data-handle': `${i}:${j}`,
        'data-testid': `zone-handle-${i}-${j}` }))));
    }
    if (drawing) {
      if (drawing.length > 1) {
        surface.append(svg('polyline', { points: pts(drawing), fill: 'none', stroke: '#fd3', 'stroke-width': 3,
          'stroke-dasharray': '6 4', 'vector-effect': 'non-scaling-stroke' }));
      }
      drawing.forEach(([x, y], i) => surface.append(svg('circle', { cx: x * vw, cy: y * vh, r: i === 0 ? 12 : 8,
        fill: i === 0 ? '#fd3' : '#fff', stroke: '#000', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' })));
    }
    status.textContent = drawing ? t('cams.zones.drawing', { n: drawing.length }) : '';
    closeBtn.hidden = !drawing;
    closeBtn.disabled = !drawing || drawing.length < 3;
    undoBtn.hidden = !drawing;
    cancelBtn.hidden = !drawing;
    newBtn.hidden = !!drawing;
    renderList();
  }

  function renderList() {
    if (!zones.length) {
      list.replaceChildren(el('div', { class: 'adm-muted' }, t('cams.zones.none')));
      return;
    }
    list.replaceChildren(...zones.map((z, i) => {
      const kind = el('select', { 'data-testid': `zone-kind-${i}`, 'aria-label': t('cams.zones.kind'),
        onchange: () => { z.kind = kind.value; redraw(); } },
      el('option', { value: 'include' }, t('cams.zones.include')),
      el('option', { value: 'exclude' }, t('cams.zones.exclude')));
      kind.value = z.kind;
      return el('div', { class: 'adm-zone-row', 'data-testid': `zone-row-${i}` },
        el('span', { class: 'adm-swatch', style: `background:${colour(z.kind)}` }),
        el('input', { value: z.name, 'aria-label': t('cams.zones.name'), 'data-testid': `zone-name-${i}`,
          oninput: (ev) => { z.name = ev.target.value; } }),
        kind,
        el('button', { type: 'button', class: 'btn adm-danger', 'data-testid': `zone-delete-${i}`,
          onclick: () => { zones.splice(i, 1); redraw(); } }, t('cams.zones.delete')));
    }));
  }

  setPicture(picture, size);
  redraw();
  const node = el('div', { class: 'adm-form' },
    el('div', { class: 'adm-muted' }, t('cams.zones.hint')),
    stage, status,
    el('div', { class: 'adm-actions' }, newBtn, closeBtn, undoBtn, cancelBtn),
    list);
  return { node, setPicture, zones: () => zones };
}

export default {
  path: 'settings/cameras',
  nav: 'nav.cameras',
  admin: true,
  strings,
  async render(root, ctx) {
    adminStyle();
    const host = el('div', { class: 'adm', 'data-testid': 'page-admin-cameras' });
    // A failed status refresh of the list is said above it (the list stays as it was).
    const stale = el('p', { class: 'adm adm-err', role: 'status', 'data-testid': 'cams-stale' });
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
  host.replaceChildren(el('div', { class: 'adm-err', role: 'alert' }, e.message || String(e)));
}
