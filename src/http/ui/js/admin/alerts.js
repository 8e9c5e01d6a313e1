// admin/alerts.js — alert settings (#/settings/alerts, admins): the alert mode as three big buttons, the
// home-mode schedule and public address, the configured notifiers with their delivery counts, a "send test"
// button each, and add / edit / delete (the editor is admin/notifiers.js), and the off-site targets
// ([[offsite]], from /api/offsite) with their health (from /api/system): working or failing since when, what
// waits, the last error; each with test / edit / delete, and an "add" (the editor is admin/offsite.js).
//
// Why it is shaped this way:
// - Notifiers and off-site targets live in the config file ([[notify]], [[offsite]]); the page edits them
//   through the API, which writes the file (comments kept) and answers a bad value with the field it concerns.
// - "Send test" shows the server's answer right on the notifier's card: the delivery's result, or the
//   failure (502 with the reason), which is what someone setting up MQTT or ntfy needs to see.
// - The mode is also in the top bar; here it gets big buttons with a line saying what each one does.

import { h } from '../dom.js';
import { formStrings, actionButton, badge, deleteButton, field, textInput, formError, submitButton,
  onSubmit, testResult } from './forms.js';
import { notifierStrings, renderNotifierForm } from './notifiers.js';
import { offsiteStrings, renderOffsiteForm, runOffsiteTest } from './offsite.js';

const strings = {
  en: {
    ...formStrings.en,
    ...notifierStrings.en,
    ...offsiteStrings.en,
    'alerts.add': 'Add notifier',
    'alerts.edit': 'Edit',
    'alerts.delete': 'Delete',
    'alerts.deleteConfirm': 'Delete notifier "{name}"? Alerts waiting for it are dropped.',
    'alerts.deleted': 'Notifier "{name}" deleted',
    'alerts.settings': 'Schedule and address',
    'alerts.schedule': 'Home-mode schedule',
    'alerts.scheduleHint': 'When "Home" still sends motion alerts, e.g. mon-fri 08:00-17:00; sat,sun 10:00-12:00',
    'alerts.publicUrl': 'Public address',
    'alerts.publicUrlHint': 'How users reach keepwatch, e.g. https://nvr.example.org (makes links in alerts work)',
    'alerts.saveSettings': 'Save',
    'alerts.settingsSaved': 'Alert settings saved',
    'alerts.title': 'Alerts',
    'alerts.mode': 'Alert mode',
    'alerts.mode.home': 'Home',
    'alerts.mode.away': 'Away',
    'alerts.mode.off': 'Off',
    'alerts.mode.homeHint': 'Motion alerts only inside the schedule’s windows.',
    'alerts.mode.awayHint': 'Every alert goes out.',
    'alerts.mode.offHint': 'No motion alerts. Camera-offline and storage alerts still go out; recording goes on.',
    'alerts.mode.set': 'Alert mode: {mode}',
    'alerts.notifiers': 'Notifiers',
    'alerts.none': 'No notifiers yet. Add one (MQTT, webhook, e-mail or ntfy) to get alerts.',
    'alerts.kind.mqtt': 'MQTT',
    'alerts.kind.webhook': 'Webhook',
    'alerts.kind.email': 'E-mail',
    'alerts.kind.ntfy': 'ntfy',
    'alerts.cameras': 'Cameras: {list}',
    'alerts.allCameras': 'Cameras: all',
    'alerts.counts': '{pending} waiting · {delivered} delivered · {failed} failed',
    'alerts.ok': 'working',
    'alerts.failing': 'failures',
    'alerts.pending': 'waiting',
    'alerts.test': 'Send test',
    'alerts.testing': 'Sending…',
    'alerts.testOk': 'Test sent: {result}',
    'alerts.testFailed': 'Test failed: {error}',
    'alerts.offsite': 'Off-site copies',
    'alerts.offsiteNone': 'No off-site targets. Add one (S3 or WebDAV) to keep encrypted copies of event clips elsewhere.',
    'alerts.offsiteAdd': 'Add target',
    'alerts.offsiteDeleteConfirm': 'Delete off-site target "{name}"? Copies already on it stay there; copies waiting for it are not sent.',
    'alerts.offsiteDeleted': 'Off-site target "{name}" deleted',
    'alerts.offsite.ok': 'working',
    'alerts.offsite.failing': 'failing',
    'alerts.offsite.idle': 'nothing sent yet',
    'alerts.offsiteCounts': '{queued} waiting · {objects} sent ({bytes} MB) since start',
    'alerts.offsiteFailing': 'Failing since {since}: {error}',
  },
  de: {
    ...formStrings.de,
    ...notifierStrings.de,
    ...offsiteStrings.de,
    'alerts.add': 'Benachrichtigung hinzufügen',
    'alerts.edit': 'Bearbeiten',
    'alerts.delete': 'Löschen',
    'alerts.deleteConfirm': 'Benachrichtigung „{name}“ löschen? Wartende Alarme dafür werden verworfen.',
    'alerts.deleted': 'Benachrichtigung „{name}“ gelöscht',
    'alerts.settings': 'Zeitplan und Adresse',
    'alerts.schedule': 'Zeitplan für „Zuhause“',
    'alerts.scheduleHint': 'Wann „Zuhause“ trotzdem Bewegungsalarme sendet, z. B. mon-fri 08:00-17:00; sat,sun 10:00-12:00',
    'alerts.publicUrl': 'Öffentliche Adresse',
    'alerts.publicUrlHint': 'Unter der keepwatch erreichbar ist, z. B. https://nvr.example.org (für Links in Alarmen)',
    'alerts.saveSettings': 'Speichern',
    'alerts.settingsSaved': 'Alarmeinstellungen gespeichert',
    'alerts.title': 'Alarme',
    'alerts.mode': 'Alarmmodus',
    'alerts.mode.home': 'Zuhause',
    'alerts.mode.away': 'Abwesend',
    'alerts.mode.off': 'Aus',
    'alerts.mode.homeHint': 'Bewegungsalarme nur in den Zeitfenstern des Zeitplans.',
    'alerts.mode.awayHint': 'Alle Alarme werden gesendet.',
    'alerts.mode.offHint': 'Keine Bewegungsalarme. Alarme zu Kameraausfall und Speicher kommen weiterhin; die Aufnahme läuft weiter.',
    'alerts.mode.set': 'Alarmmodus: {mode}',
    'alerts.notifiers': 'Benachrichtigungen',
    'alerts.none': 'Noch keine Benachrichtigungen. Fügen Sie eine hinzu (MQTT, Webhook, E-Mail oder ntfy), um Alarme zu erhalten.',
    'alerts.kind.mqtt': 'MQTT',
    'alerts.kind.webhook': 'Webhook',
    'alerts.kind.email': 'E-Mail',
    'alerts.kind.ntfy': 'ntfy',
    'alerts.cameras': 'Kameras: {list}',
    'alerts.allCameras': 'Kameras: alle',
    'alerts.counts': '{pending} wartend · {delivered} zugestellt · {failed} fehlgeschlagen',
    'alerts.ok': 'funktioniert',
    'alerts.failing': 'Fehler',
    'alerts.pending': 'wartend',
    'alerts.test': 'Test senden',
    'alerts.testing': 'Wird gesendet…',
    'alerts.testOk': 'Test gesendet: {result}',
    'alerts.testFailed': 'Test fehlgeschlagen: {error}',
    'alerts.offsite': 'Externe Sicherung',
    'alerts.offsiteNone': 'Keine externen Ziele. Fügen Sie eines hinzu (S3 oder WebDAV), um verschlüsselte Kopien der Ereignisclips anderswo aufzubewahren.',
    'alerts.offsiteAdd': 'Ziel hinzufügen',
    'alerts.offsiteDeleteConfirm': 'Externes Ziel „{name}“ löschen? Kopien darauf bleiben dort; wartende Kopien werden nicht mehr gesendet.',
    'alerts.offsiteDeleted': 'Externes Ziel „{name}“ gelöscht',
    'alerts.offsite.ok': 'funktioniert',
    'alerts.offsite.failing': 'Fehler',
    'alerts.offsite.idle': 'noch nichts gesendet',
    'alerts.offsiteCounts': '{queued} wartend · {objects} gesendet ({bytes} MB) seit dem Start',
    'alerts.offsiteFailing': 'Fehler seit {since}: {error}',
  },
};

const MODES = ['home', 'away', 'off'];

function modeSection(ctx) {
  const { t } = ctx;
  const hint = h('p', { class: 'adm-muted', 'data-testid': 'alerts-mode-hint' });
  const buttons = MODES.map((m) => h('button', { type: 'button', class: 'btn', 'data-testid': `alerts-mode-${m}`, 'data-mode': m,
    'aria-pressed': 'false', onclick: () => set(m) }, t(`alerts.mode.${m}`)));
  function show(mode) {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
    hint.textContent = MODES.includes(mode) ? t(`alerts.mode.${mode}Hint`) : '';
  }
  async function set(mode) {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const r = await ctx.api('/api/mode', { method: 'PUT', body: { mode } });
      show(r.mode);
      ctx.toast(t('alerts.mode.set', { mode: t(`alerts.mode.${r.mode}`) }), 'ok');
      // The top bar shows the mode too; let it know.
      window.dispatchEvent(new CustomEvent('kw:mode', { detail: r.mode }));
    } catch (e) {
      ctx.toast(e.message, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
  const node = h('section', { class: 'adm-form' }, h('h3', null, t('alerts.mode')),
    h('div', { class: 'adm-mode', role: 'group', 'aria-label': t('alerts.mode') }, buttons), hint);
  return { node, show };
}

function settingsSection(ctx, cur) {
  const { t } = ctx;
  const schedIn = textInput('alerts-schedule', cur.schedule);
  const urlIn = textInput('alerts-public-url', cur.public_url, { inputmode: 'url', placeholder: 'https://nvr.example.org' });
  const topErr = formError('alerts-settings-error');
  const save = submitButton(t('alerts.saveSettings'), 'alerts-settings-save');
  const form = h('form', { class: 'adm-form', novalidate: true, 'data-testid': 'alerts-settings' },
    h('h3', null, t('alerts.settings')), topErr,
    field(t('alerts.schedule'), schedIn, t('alerts.scheduleHint'), 'schedule'),
    field(t('alerts.publicUrl'), urlIn, t('alerts.publicUrlHint'), 'public_url'),
    h('div', { class: 'adm-actions' }, save));
  onSubmit(form, {
    button: save,
    errorBox: topErr,
    send: async () => {
      const r = await ctx.api('/api/alerts', { method: 'PUT',
        body: { schedule: schedIn.value.trim() || null, public_url: urlIn.value.trim() || null } });
      schedIn.value = r.schedule || '';
      urlIn.value = r.public_url || '';
      ctx.toast(t('alerts.settingsSaved'), 'ok');
    },
  });
  return form;
}

function notifierCard(ctx, n, view) {
  const { t } = ctx;
  const result = h('div', { 'data-testid': `notifier-result-${n.name}`, 'aria-live': 'polite' });
  const state = n.failed > 0 ? ['bad', t('alerts.failing')] : n.pending > 0 ? ['warn', t('alerts.pending')]
    : ['ok', t('alerts.ok')];
  const btn = actionButton(t('alerts.test'), `notifier-test-${n.name}`, async () => {
    result.className = 'adm-muted';
    result.textContent = t('alerts.testing');
    try {
      const r = await ctx.api(`/api/notifiers/${encodeURIComponent(n.name)}/test`, { method: 'POST' });
      result.className = 'adm-badge ok';
      result.dataset.ok = 'true';
      result.textContent = t('alerts.testOk', { result: r.result });
    } catch (e) {
      result.className = 'adm-err';
      result.dataset.ok = 'false';
      result.textContent = t('alerts.testFailed', { error: e.message });
    }
  });
  const kindKey = `alerts.kind.${n.kind}`;
  return h('div', { class: 'adm-card', 'data-testid': `notifier-${n.name}` },
    h('div', { class: 'adm-row' }, h('strong', null, n.name),
      badge(t(kindKey) === kindKey ? n.kind : t(kindKey)),
      badge(state[1], state[0], 'notifier-state')),
    h('div', { class: 'adm-muted', 'data-testid': 'notifier-target' }, n.target),
    h('div', { class: 'adm-muted' },
      n.cameras ? t('alerts.cameras', { list: n.cameras.join(', ') }) : t('alerts.allCameras')),
    h('div', { class: 'adm-muted' },
      t('alerts.counts', { pending: n.pending, delivered: n.delivered, failed: n.failed })),
    h('div', { class: 'adm-actions' }, btn,
      h('button', { type: 'button', class: 'btn', 'data-testid': `notifier-edit-${n.name}`, onclick: () => view.edit(n.name) },
        t('alerts.edit')),
      deleteButton(t('alerts.delete'), `notifier-delete-${n.name}`, t('alerts.deleteConfirm', { name: n.name }), async () => {
        await ctx.api(`/api/notifiers/${encodeURIComponent(n.name)}`, { method: 'DELETE' });
        ctx.toast(t('alerts.deleted', { name: n.name }), 'ok');
        view.list();
      })),
    result);
}

/** One off-site target: its settings `o` (GET /api/offsite) and health `health` (/api/system; none yet for a
 * target just added). */
function offsiteCard(ctx, o, health, view) {
  const { t } = ctx;
  const hl = health || { status: 'idle', queued: 0, uploaded_objects: 0, uploaded_bytes: 0 };
  const tone = hl.status === 'failing' ? 'bad' : hl.status === 'ok' ? 'ok' : 'warn';
  const result = testResult(`offsite-test-${o.name}`);
  return h('div', { class: 'adm-card', 'data-testid': `offsite-${o.name}` },
    h('div', { class: 'adm-row' }, h('strong', null, o.name), badge(t(`alerts.offsite.${hl.status}`), tone, 'offsite-state')),
    h('div', { class: 'adm-muted', 'data-testid': 'offsite-target' }, o.target),
    h('div', { class: 'adm-muted' }, t('alerts.offsiteCounts', { queued: hl.queued, objects: hl.uploaded_objects,
      bytes: (hl.uploaded_bytes / 1e6).toFixed(1) })),
    hl.failing_since
      ? h('div', { class: 'adm-err', 'data-testid': 'offsite-error' },
        t('alerts.offsiteFailing', { since: new Date(hl.failing_since).toLocaleString(), error: hl.last_error || '' }))
      : null,
    h('div', { class: 'adm-actions' },
      actionButton(t('of.test'), `offsite-test-${o.name}`, () => runOffsiteTest(ctx, o.name, undefined, result)),
      h('button', { type: 'button', class: 'btn', 'data-testid': `offsite-edit-${o.name}`, onclick: () => view.editOffsite(o) },
        t('alerts.edit')),
      deleteButton(t('alerts.delete'), `offsite-delete-${o.name}`, t('alerts.offsiteDeleteConfirm', { name: o.name }), async () => {
        await ctx.api(`/api/offsite/${encodeURIComponent(o.name)}`, { method: 'DELETE' });
        ctx.toast(t('alerts.offsiteDeleted', { name: o.name }), 'ok');
        view.list();
      })),
    result.node);
}

export default {
  path: 'settings/alerts',
  nav: 'nav.alerts',
  admin: true,
  strings,
  async render(root, ctx) {
    const { t } = ctx;
    const mode = modeSection(ctx);
    const list = h('div', { class: 'adm-list', 'data-testid': 'notifier-list' });
    const offsite = h('div', { class: 'adm-list', 'data-testid': 'offsite-list' });
    const listPart = h('div', null, mode.node, h('div', { 'data-testid': 'alerts-settings-slot' }),
      h('section', { class: 'adm-form' },
        h('div', { class: 'adm-bar' }, h('h3', null, t('alerts.notifiers')),
          h('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'notifier-add',
            onclick: () => view.edit(null) }, t('alerts.add'))),
        list),
      h('section', { class: 'adm-form' },
        h('div', { class: 'adm-bar' }, h('h3', null, t('alerts.offsite')),
          h('button', { type: 'button', class: 'btn btn-primary adm-primary', 'data-testid': 'offsite-add',
            onclick: () => view.editOffsite(null) }, t('alerts.offsiteAdd'))),
        offsite));
    const formPart = h('div', { hidden: true });
    const host = h('div', { class: 'adm', 'data-testid': 'page-admin-alerts' }, h('h2', null, t('alerts.title')), listPart, formPart);
    root.append(host);
    const view = {
      async list() {
        formPart.hidden = true;
        formPart.replaceChildren();
        listPart.hidden = false;
        const [m, notifiers, settings, system, targets] = await Promise.all([ctx.api('/api/mode'),
          ctx.api('/api/notifiers'), ctx.api('/api/alerts'), ctx.api('/api/system'), ctx.api('/api/offsite')]);
        mode.show(m.mode);
        listPart.querySelector('[data-testid=alerts-settings-slot]').replaceChildren(settingsSection(ctx, settings));
        list.replaceChildren();
        if (!notifiers.length) list.append(h('p', { class: 'adm-muted', 'data-testid': 'notifier-none' }, t('alerts.none')));
        for (const n of notifiers) list.append(notifierCard(ctx, n, view));
        const health = new Map((system.offsite || []).map((o) => [o.name, o]));
        offsite.replaceChildren();
        if (!targets.length) offsite.append(h('p', { class: 'adm-muted', 'data-testid': 'offsite-none' }, t('alerts.offsiteNone')));
        for (const o of targets) offsite.append(offsiteCard(ctx, o, health.get(o.name), view));
      },
      edit(name) {
        return view.form(() => renderNotifierForm(formPart, ctx, name, () => view.list()));
      },
      editOffsite(cfg) {
        return view.form(() => renderOffsiteForm(formPart, ctx, cfg, () => view.list()));
      },
      async form(render) {
        listPart.hidden = true;
        formPart.hidden = false;
        try {
          await render();
        } catch (e) {
          formPart.replaceChildren(h('div', { class: 'adm-err', role: 'alert' }, e.message || String(e)));
        }
      },
    };
    await view.list();
    const onMode = (ev) => mode.show(ev.detail);
    window.addEventListener('kw:mode', onMode);
    // The top bar's mode switch announces its changes (kw:mode) too, so both always agree.
    return () => window.removeEventListener('kw:mode', onMode);
  },
};
