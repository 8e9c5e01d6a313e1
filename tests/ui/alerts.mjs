// alerts.mjs — editing alerts in headless Chromium against a real keepwatch, a real mosquitto (with a
// password), a real SMTP sink (aiosmtpd) and an HTTP sink, driven by tests/it/ui_alerts.rs (which starts
// them and checks the config file afterwards).
//
// Steps: the home-mode schedule and public address (a bad schedule is named at its field); a webhook
// added with a secret, tested and saved; a notifier with a bad URL refused at its target field and not
// written; an MQTT notifier whose wrong password the test names as such, then right, saved; an e-mail
// notifier tested against the SMTP sink and saved; editing the MQTT one shows no password and keeps it;
// the e-mail one deleted; the page in German. Screenshots `alerts-NN-step.png`.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, CAMERA, HOOK_URL, MQTT_URL (no credentials),
// MQTT_USER, MQTT_PASSWORD, SMTP_URL.

import path from 'node:path';
import { SHOTS, BASE_URL, run, newPage, login, log, assert, waitTrue } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`alerts.mjs needs env ${k}`);
  return v;
};
const ADMIN = [env('ADMIN_USER'), env('ADMIN_PASSWORD')];
const CAMERA = env('CAMERA');
const HOOK_URL = env('HOOK_URL');
const MQTT_URL = env('MQTT_URL');
const MQTT_USER = env('MQTT_USER');
const MQTT_PASSWORD = env('MQTT_PASSWORD');
const SMTP_URL = env('SMTP_URL');

let n = 0;
async function shot(page, name) {
  n += 1;
  const file = path.join(SHOTS, `alerts-${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

async function openAlerts(page) {
  await page.goto(`${BASE_URL}/#/settings/alerts`);
  await page.getByTestId('notifier-add').waitFor({ timeout: 15000 });
}

/** Runs "send test" on the open form and answers [ok, kind, text]. */
async function sendTest(page) {
  await page.getByTestId('nf-test').click();
  const box = page.locator('[data-testid=nf-test-result][data-ok]');
  await box.waitFor({ timeout: 30000 });
  return [await box.getAttribute('data-ok') === 'true',
    await page.getByTestId('nf-test-error').getAttribute('data-kind').catch(() => null),
    (await box.textContent()) || ''];
}

/** Saves the form and waits for the list again; fails with the form's errors. */
async function save(page) {
  await page.getByTestId('nf-save').click();
  await waitTrue(page, () => (document.querySelector('[data-testid=notifier-list]')?.offsetParent)
    || [...document.querySelectorAll('[data-testid=nf-form] .adm-err')].some((e) => e.textContent), null, 'the list after saving');
  const errors = (await page.locator('[data-testid=nf-form] .adm-err').allTextContents()).filter(Boolean);
  assert(errors.length === 0, `saving failed: ${errors.join('; ')}`);
}

async function newNotifier(page, name, kind, target) {
  await page.getByTestId('notifier-add').click();
  await page.getByTestId('nf-name').fill(name);
  await page.getByTestId('nf-kind').selectOption(kind);
  await page.getByTestId('nf-target').fill(target);
}

run(async (browser) => {
  const page = await newPage(browser);
  await login(page, ...ADMIN);
  await openAlerts(page);
  await shot(page, 'empty');

  // Schedule and public address: a bad schedule is named at its field, a good one saved.
  await page.getByTestId('alerts-schedule').fill('someday 25:00-26:00');
  await page.getByTestId('alerts-settings-save').click();
  await page.locator('[data-testid=err-schedule]:not(:empty)').waitFor({ timeout: 10000 });
  await page.getByTestId('alerts-schedule').fill('mon-fri 08:00-17:00');
  await page.getByTestId('alerts-public-url').fill('https://nvr.example.org');
  await page.getByTestId('alerts-settings-save').click();
  await waitTrue(page, () => document.querySelector('.toast, [role=status]')?.textContent?.includes('saved'), null, 'the saved toast');

  // A webhook with a secret, only motion, one camera: tested, then saved.
  await newNotifier(page, 'hook', 'webhook', HOOK_URL);
  await page.getByTestId('nf-secret').fill('hmac-secret-1');
  await page.getByTestId('nf-ev-motion').check();
  await page.getByTestId(`nf-cam-${CAMERA}`).check();
  await page.getByTestId('nf-cooldown').fill('10s');
  let [ok, kind, said] = await sendTest(page);
  assert(ok, `webhook test: ${kind} ${said}`);
  await shot(page, 'webhook-tested');
  await save(page);
  await page.getByTestId('notifier-hook').waitFor();

  // A bad URL is refused at the target field and nothing is written; a bad cooldown likewise.
  await newNotifier(page, 'bad', 'ntfy', 'ftp://ntfy.example.org/topic');
  await page.getByTestId('nf-save').click();
  await page.locator('[data-testid=err-target]:not(:empty)').waitFor({ timeout: 10000 });
  log(`bad target: ${await page.getByTestId('err-target').textContent()}`);
  await page.getByTestId('nf-target').fill('https://ntfy.example.org/topic');
  await page.getByTestId('nf-cooldown').fill('soon');
  await page.getByTestId('nf-save').click();
  await page.locator('[data-testid=err-cooldown]:not(:empty)').waitFor({ timeout: 10000 });
  await shot(page, 'bad-refused');
  await page.getByTestId('nf-cancel').click();
  await page.getByTestId('notifier-hook').waitFor();
  assert(await page.getByTestId('notifier-bad').count() === 0, 'the refused notifier is listed');

  // MQTT: a wrong password is named as such; the right one works.
  const userUrl = MQTT_URL.replace('mqtt://', `mqtt://${MQTT_USER}@`);
  await newNotifier(page, 'ha', 'mqtt', userUrl);
  await page.getByTestId('nf-password').fill('not-the-password');
  [ok, kind, said] = await sendTest(page);
  assert(!ok && kind === 'auth', `a wrong MQTT password: ${ok} ${kind} ${said}`);
  assert(!said.includes('not-the-password'), 'the password is shown');
  await shot(page, 'mqtt-wrong-password');
  await page.getByTestId('nf-password').fill(MQTT_PASSWORD);
  [ok, kind, said] = await sendTest(page);
  assert(ok, `MQTT test: ${kind} ${said}`);
  await save(page);
  await page.getByTestId('notifier-ha').waitFor();
  assert(!(await page.getByTestId('notifier-ha').textContent()).includes(MQTT_PASSWORD), 'the MQTT password is listed');

  // E-mail through the SMTP sink.
  await newNotifier(page, 'mail', 'email', SMTP_URL);
  await page.getByTestId('nf-from').fill('keepwatch@example.org');
  await page.getByTestId('nf-to').fill('me@example.org, you@example.org');
  [ok, kind, said] = await sendTest(page);
  assert(ok, `e-mail test: ${kind} ${said}`);
  await save(page);
  await page.getByTestId('notifier-mail').waitFor();

  // An unreachable target is named as such.
  await newNotifier(page, 'gone', 'webhook', 'http://127.0.0.1:9/nobody');
  [ok, kind, said] = await sendTest(page);
  assert(!ok && kind === 'unreachable', `an unreachable webhook: ${ok} ${kind} ${said}`);
  await page.getByTestId('nf-cancel').click();

  // Editing MQTT: the password is not shown and is kept; the cooldown changes.
  await page.getByTestId('notifier-edit-ha').click();
  await page.getByTestId('nf-target').waitFor();
  const shown = await page.getByTestId('nf-target').inputValue();
  assert(shown.includes('***') && !shown.includes(MQTT_PASSWORD), `the target as shown: ${shown}`);
  await page.getByTestId('nf-cooldown').fill('2m');
  [ok, kind, said] = await sendTest(page);
  assert(ok, `MQTT test with the stored password: ${kind} ${said}`);
  await save(page);

  // Delete the e-mail notifier (asks first).
  await page.getByTestId('notifier-delete-mail').click();
  await page.getByTestId('confirm-yes').click();
  await waitTrue(page, () => !document.querySelector('[data-testid=notifier-mail]'), null, 'the deleted notifier gone');
  await page.getByTestId('notifier-test-hook').click();
  await page.locator('[data-testid=notifier-result-hook][data-ok=true]').waitFor({ timeout: 30000 });
  await shot(page, 'list');

  // German.
  const de = await newPage(browser, { locale: 'de-DE' });
  await login(de, ...ADMIN);
  await de.goto(`${BASE_URL}/#/settings/alerts`);
  await de.getByTestId('notifier-add').waitFor();
  assert((await de.getByTestId('notifier-add').textContent()).includes('hinzufügen'), 'German strings');
  await de.getByTestId('notifier-edit-hook').click();
  await de.getByTestId('nf-save').waitFor();
  assert((await de.getByTestId('nf-test').textContent()) === 'Test senden', 'German form strings');
  await shot(de, 'german');
});
