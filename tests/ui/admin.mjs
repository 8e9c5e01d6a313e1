// admin.mjs — the admin pages in headless Chromium against a real keepwatch with a real RTSP camera, driven
// by tests/it/ui_admin.rs (which starts everything and checks the config file and recordings afterwards).
//
// Why one script with steps in a row: adding a camera is the thread the admin pages hang on (its recording
// shows on the system page, its name is a grant on the users page), and one browser start keeps the whole
// run well under two minutes. Every step takes a screenshot `admin-NN-step.png` so a failure can be seen.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, VIEWER_USER/VIEWER_PASSWORD, RTSP_URL (open
// camera), AUTH_RTSP_URL + AUTH_USER (a camera that wants a password), DEAD_RTSP_URL (nothing listens),
// CAMERA (name to add), NOTIFIER.

import path from 'node:path';
import { BASE_URL, SHOTS, run, newPage, login, log, assert, waitTrue, noHorizontalScroll } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`admin.mjs needs env ${k}`);
  return v;
};
const ADMIN = [env('ADMIN_USER'), env('ADMIN_PASSWORD')];
const VIEWER = [env('VIEWER_USER'), env('VIEWER_PASSWORD')];
const CAMERA = env('CAMERA');
const NOTIFIER = env('NOTIFIER');

let n = 0;
async function shot(page, name, fullPage = true) {
  n += 1;
  const file = path.join(SHOTS, `admin-${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  log(`screenshot ${file}`);
}

async function open(page, route, testid) {
  await page.goto(`${BASE_URL}/#/${route}`);
  await page.getByTestId(testid).waitFor({ timeout: 15000 });
}

async function text(page, testid) {
  return (await page.getByTestId(testid).first().textContent()) || '';
}

/** Clicks the points (0..1 of the picture) on the zone editor and closes the polygon. */
async function drawZone(page, points) {
  const svg = page.getByTestId('zone-svg');
  await svg.scrollIntoViewIfNeeded();
  const box = await svg.boundingBox();
  for (const [x, y] of points) await svg.click({ position: { x: x * box.width, y: y * box.height } });
  await page.getByTestId('zone-close').click();
}

/** Saves the camera form and waits for the list; fails with any error the form shows. */
async function saveCamera(page) {
  const t0 = Date.now();
  await page.getByTestId('cam-save').click();
  await waitTrue(page, () => document.querySelector('[data-testid=cams-list]')
    || [...document.querySelectorAll('.adm-err')].some((e) => e.textContent), null, 'the camera list after saving');
  const errors = await page.locator('.adm-err').allTextContents();
  assert(await page.getByTestId('cams-list').count() === 1, `saving failed: ${errors.filter(Boolean).join('; ')}`);
  log(`saved in ${Date.now() - t0} ms`);
}

async function addCamera(page) {
  await open(page, 'settings/cameras', 'cams-add');
  await shot(page, 'cameras-empty');
  await page.getByTestId('cams-add').click();
  await page.getByTestId('cam-name').fill(CAMERA);
  await page.getByTestId('cam-url').fill(env('RTSP_URL'));
  await page.getByTestId('cam-test').click();
  await page.locator('[data-testid=cam-probe-result][data-ok]').waitFor({ timeout: 20000 });
  const ok = await page.getByTestId('cam-probe-result').getAttribute('data-ok');
  assert(ok === 'true', `probe failed: ${await text(page, 'cam-probe-result')}`);
  assert((await text(page, 'cam-probe-codec')) === 'H264', `codec: ${await text(page, 'cam-probe-codec')}`);
  assert((await text(page, 'cam-probe-resolution')) === '640×360', `resolution: ${await text(page, 'cam-probe-resolution')}`);
  await waitTrue(page, () => document.querySelector('[data-testid=cam-probe-snapshot]')?.naturalWidth === 640, null,
    'the probe snapshot to load at 640 px');
  await shot(page, 'camera-test-ok');
  await saveCamera(page);
  log('camera saved through the form');

  // It records: the API shows a span within a few seconds.
  const t0 = Date.now();
  for (;;) {
    const spans = await page.evaluate(async (c) => (await fetch(`/api/cameras/${c}/recordings`)).json(), CAMERA);
    if (Array.isArray(spans) && spans.length) { log(`recording: ${JSON.stringify(spans[0])}`); break; }
    assert(Date.now() - t0 < 45000, 'no recorded span 45 s after saving the camera');
    await page.waitForTimeout(500);
  }
  await page.reload();
  await waitTrue(page, (c) => document.querySelector(`[data-testid=cam-row-${c}] [data-testid=cam-status]`)
    ?.textContent.includes('streaming'), CAMERA, 'the list to show the camera streaming');
  await shot(page, 'cameras-list');
}

async function wrongPassword(page) {
  await page.getByTestId('cams-add').click();
  await page.getByTestId('cam-name').fill('secured');
  await page.getByTestId('cam-url').fill(env('AUTH_RTSP_URL'));
  await page.getByTestId('cam-username').fill(env('AUTH_USER'));
  await page.getByTestId('cam-password').fill('not-the-password');
  await page.getByTestId('cam-test').click();
  const err = page.getByTestId('cam-probe-error');
  await err.waitFor({ timeout: 20000 });
  assert((await err.getAttribute('data-kind')) === 'auth', `probe error kind ${await err.getAttribute('data-kind')}: `
    + `${await text(page, 'cam-probe-detail')}`);
  assert((await err.textContent()).includes('Wrong user name or password'), `headline: ${await err.textContent()}`);
  assert(await err.isVisible(), 'the error is visible');
  await shot(page, 'camera-wrong-password');
  // Nothing listens there: "unreachable", not a password problem.
  await page.getByTestId('cam-url').fill(env('DEAD_RTSP_URL'));
  await page.getByTestId('cam-username').fill('');
  await page.getByTestId('cam-password').fill('');
  await page.getByTestId('cam-test').click();
  await page.locator('[data-testid=cam-probe-error][data-kind=unreachable]').waitFor({ timeout: 20000 }).catch(async () => {
    throw new Error(`expected unreachable, got: ${await text(page, 'cam-probe-result')}`);
  });
  assert((await text(page, 'cam-probe-error')) === 'Camera unreachable', `headline: ${await text(page, 'cam-probe-error')}`);
  await page.getByTestId('cam-cancel').click();
  await page.getByTestId('cams-add').waitFor();
}

async function zoneAndFieldError(page) {
  await page.getByTestId(`cam-edit-${CAMERA}`).click();
  await page.getByTestId('cam-url').waitFor();
  // The latest picture of the running camera is what zones are drawn on.
  await waitTrue(page, () => document.querySelector('[data-testid=zone-picture]')?.naturalWidth > 0, null,
    'the zone editor picture');
  // A bad value: the server's 400 appears next to the field it names.
  await page.getByTestId('cam-max-age').fill('7 fortnights');
  await page.getByTestId('cam-save').click();
  await page.getByTestId('err-max_age').waitFor({ timeout: 10000 });
  assert((await text(page, 'err-max_age')).includes('max_age'), `field error: ${await text(page, 'err-max_age')}`);
  await shot(page, 'camera-field-error');
  await page.getByTestId('cam-max-age').fill('7d');
  // Pre- and post-roll for record-on-motion are set in the same form.
  await page.getByTestId('cam-pre-roll').fill('3s');
  await page.getByTestId('cam-post-roll').fill('20s');
  await drawZone(page, [[0.1, 0.1], [0.6, 0.1], [0.6, 0.5], [0.1, 0.5]]);
  // A corner can be dragged after the zone is closed: move the first one from (0.1, 0.1) to (0.2, 0.15).
  {
    const box = await page.getByTestId('zone-svg').boundingBox();
    const handle = await page.getByTestId('zone-handle-0-0').boundingBox();
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 0.15 * box.width, box.y + 0.12 * box.height, { steps: 4 });
    await page.mouse.move(box.x + 0.2 * box.width, box.y + 0.15 * box.height, { steps: 4 });
    await page.mouse.up();
  }
  await page.getByTestId('zone-name-0').fill('door');
  await page.getByTestId('zone-kind-0').selectOption('exclude');
  await shot(page, 'camera-zone');
  await saveCamera(page);
  const cfg = await page.evaluate(async (c) => (await fetch(`/api/cameras/${c}/config`)).json(), CAMERA);
  const z = cfg.motion.zones;
  assert(z.length === 1 && z[0].name === 'door' && z[0].kind === 'exclude' && z[0].points.length === 4,
    `zones after save: ${JSON.stringify(z)}`);
  const [cx, cy] = z[0].points[0];
  assert(Math.abs(cx - 0.2) < 0.02 && Math.abs(cy - 0.15) < 0.02, `dragged corner: ${JSON.stringify(z[0].points)}`);
  assert(cfg.max_age === '7d', `max_age after save: ${cfg.max_age}`);
  assert(cfg.motion.pre_roll === '3s' && cfg.motion.post_roll === '20s',
    `rolls after save: ${cfg.motion.pre_roll} ${cfg.motion.post_roll}`);
  log('zone saved');
}

/** The zone editor stops at the server's 16 zones per camera; nothing is saved. */
async function zoneCap(page) {
  await page.getByTestId(`cam-edit-${CAMERA}`).click();
  await page.getByTestId('cam-url').waitFor();
  await waitTrue(page, () => document.querySelector('[data-testid=zone-picture]')?.naturalWidth > 0, null,
    'the zone editor picture');
  for (let i = 1; i < 16; i++) {
    const x = 0.05 + (i % 8) * 0.11;
    const y = i < 8 ? 0.6 : 0.8;
    await drawZone(page, [[x, y], [x + 0.08, y], [x + 0.04, y + 0.12]]);
  }
  assert(await page.locator('[data-testid^=zone-row-]').count() === 16, 'sixteen zones drawn');
  assert(await page.getByTestId('zone-new').isDisabled(), '"Draw a zone" is disabled at 16 zones');
  assert((await text(page, 'zone-status')).includes('At most 16 zones'), `status: ${await text(page, 'zone-status')}`);
  // A click on the picture starts no 17th zone.
  const svgBox = await page.getByTestId('zone-svg').boundingBox();
  await page.getByTestId('zone-svg').click({ position: { x: 0.5 * svgBox.width, y: 0.3 * svgBox.height } });
  assert(await page.getByTestId('zone-close').isHidden(), 'no polygon is being drawn');
  await shot(page, 'camera-zone-cap');
  await page.getByTestId('cam-cancel').click();
  await page.getByTestId('cams-add').waitFor();
  const cfg = await page.evaluate(async (c) => (await fetch(`/api/cameras/${c}/config`)).json(), CAMERA);
  assert(cfg.motion.zones.length === 1, `zones after cancel: ${cfg.motion.zones.length}`);
  log('zone cap shown');
}

/** A test the server refuses (400: the stored password would go to another host) shows the server's words. */
async function probeRefused(page) {
  const st = await page.evaluate(async (url) => (await fetch('/api/cameras', { method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': sessionStorage.getItem('kw.csrf') || '' },
    body: JSON.stringify({ name: 'stored', url, username: 'admin', password: 'kept-secret', record: 'off' }) })).status,
  env('RTSP_URL'));
  assert(st === 201, `adding the camera with a password answered ${st}`);
  await page.reload();
  await page.getByTestId('cam-edit-stored').click();
  await page.getByTestId('cam-url').fill(env('RTSP_URL').replace('127.0.0.1', '127.0.0.2'));
  await page.getByTestId('cam-test').click();
  const err = page.getByTestId('cam-probe-error');
  await err.waitFor({ timeout: 20000 });
  assert((await err.getAttribute('data-kind')) === 'refused', `kind ${await err.getAttribute('data-kind')}`);
  assert(!(await err.textContent()).includes('Invalid address'), `headline: ${await err.textContent()}`);
  assert((await text(page, 'cam-probe-detail')).includes('enter the password again'),
    `detail: ${await text(page, 'cam-probe-detail')}`);
  await shot(page, 'camera-probe-refused');
  await page.getByTestId('cam-cancel').click();
  await page.getByTestId('cams-add').waitFor();
  const del = await page.evaluate(async () => (await fetch('/api/cameras/stored', { method: 'DELETE',
    headers: { 'x-csrf-token': sessionStorage.getItem('kw.csrf') || '' } })).status);
  assert(del === 204, `deleting the camera answered ${del}`);
  await page.reload();
  log('probe refusal shown');
}

async function deleteCamera(page) {
  // A spare camera, added straight through the API, is deleted through the page (asking first).
  const st = await page.evaluate(async (url) => (await fetch('/api/cameras', { method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': sessionStorage.getItem('kw.csrf') || '' },
    body: JSON.stringify({ name: 'spare', url, record: 'off' }) })).status, env('RTSP_URL'));
  assert(st === 201, `adding the spare camera answered ${st}`);
  await page.reload();
  await page.getByTestId('cam-delete-spare').click();
  await page.getByTestId('confirm-no').click();
  assert(await page.getByTestId('cam-row-spare').count() === 1, 'no kept the camera');
  await page.getByTestId('cam-delete-spare').click();
  await shot(page, 'camera-delete-confirm', false);
  await page.getByTestId('confirm-yes').click();
  await waitTrue(page, () => !document.querySelector('[data-testid=cam-row-spare]'), null, 'the spare camera gone');
  const cams = await page.evaluate(async () => (await fetch('/api/cameras')).json());
  assert(!cams.some((c) => c.name === 'spare'), 'spare still in /api/cameras');
}

async function alerts(page) {
  await open(page, 'settings/alerts', `notifier-${NOTIFIER}`);
  await page.getByTestId(`notifier-test-${NOTIFIER}`).click();
  const result = page.locator(`[data-testid=notifier-result-${NOTIFIER}][data-ok]`);
  await result.waitFor({ timeout: 20000 });
  assert((await result.getAttribute('data-ok')) === 'true', `notifier test: ${await result.textContent()}`);
  assert(!(await text(page, `notifier-${NOTIFIER}`)).includes('s3cret'), 'a credential is shown');
  await page.getByTestId('alerts-mode-home').click();
  await waitTrue(page, () => document.querySelector('[data-testid=alerts-mode-home]')?.getAttribute('aria-pressed')
    === 'true', null, 'home mode pressed');
  const mode = await page.evaluate(async () => (await fetch('/api/mode')).json());
  assert(mode.mode === 'home', `mode ${mode.mode}`);
  await shot(page, 'alerts');
  await page.getByTestId('alerts-mode-away').click();
  await waitTrue(page, () => document.querySelector('[data-testid=alerts-mode-away]')?.getAttribute('aria-pressed')
    === 'true', null, 'away mode pressed');
}

async function users(page) {
  await open(page, 'settings/users', 'user-form');
  await page.getByTestId('user-name').fill('paul');
  await page.getByTestId('user-password').fill('paul-password-123');
  await page.getByTestId('user-role').selectOption('viewer');
  await page.getByTestId('user-all-cameras').uncheck();
  await page.getByTestId(`user-camera-${CAMERA}`).check();
  await page.getByTestId('user-add').click();
  await page.getByTestId('user-paul').waitFor({ timeout: 10000 });
  assert((await text(page, 'user-paul')).includes(CAMERA), `grants: ${await text(page, 'user-paul')}`);
  const list = await page.evaluate(async () => (await fetch('/api/users')).json());
  const paul = list.find((u) => u.name === 'paul');
  assert(paul && paul.role === 'viewer' && JSON.stringify(paul.cameras) === JSON.stringify([CAMERA]),
    `paul: ${JSON.stringify(paul)}`);
  await page.getByTestId('token-label').fill('home-assistant');
  await page.getByTestId('token-create').click();
  await page.getByTestId('token-value').waitFor({ timeout: 10000 });
  const token = (await text(page, 'token-value')).trim();
  assert(token.startsWith('kw_'), `token ${token}`);
  await shot(page, 'users');
  // The token works.
  const st = await page.evaluate(async (tok) => (await fetch('/api/system', { credentials: 'omit',
    headers: { authorization: `Bearer ${tok}` } })).status, token);
  assert(st === 200, `token answered ${st}`);
  // It is listed (never its secret) and revoking it stops it at once.
  await page.getByTestId('token-home-assistant').waitFor({ timeout: 10000 });
  assert(!(await text(page, 'token-list')).includes(token), 'the list shows no secret');
  await page.getByTestId('token-revoke-home-assistant').click();
  await page.getByTestId('confirm-yes').click();
  await waitTrue(page, () => !document.querySelector('[data-testid=token-home-assistant]'), null, 'token revoked');
  const st2 = await page.evaluate(async (tok) => (await fetch('/api/system', { credentials: 'omit',
    headers: { authorization: `Bearer ${tok}` } })).status, token);
  assert(st2 === 401, `revoked token answered ${st2}`);
  // Removing asks first.
  await page.getByTestId('user-remove-paul').click();
  await page.getByTestId('confirm-yes').click();
  await waitTrue(page, () => !document.querySelector('[data-testid=user-paul]'), null, 'paul removed');
}

async function system(page) {
  await open(page, 'system', 'sys-storage');
  const used = await text(page, 'sys-used');
  const oldest = await text(page, 'sys-oldest');
  assert(/\d/.test(used), `storage: ${used}`);
  assert(/^Oldest recording: .*(ago|now|second|minute)/.test(oldest), `oldest: ${oldest}`);
  assert((await text(page, `sys-camera-${CAMERA}`)).includes('streaming'), 'camera health');
  assert(/keepwatch \d+\.\d+/.test(await text(page, 'sys-version')), 'version');
  await shot(page, 'system');
}

async function german(browser) {
  const page = current = await newPage(browser, { locale: 'de-DE' });
  await login(page, ...ADMIN);
  await open(page, 'settings/cameras', 'cams-add');
  assert((await text(page, 'cams-add')) === 'Kamera hinzufügen', `German: ${await text(page, 'cams-add')}`);
  await page.getByTestId(`cam-edit-${CAMERA}`).click();
  await page.getByTestId('cam-test').waitFor();
  assert((await text(page, 'cam-test')) === 'Verbindung testen', `German: ${await text(page, 'cam-test')}`);
  await waitTrue(page, () => document.querySelector('[data-testid=zone-picture]')?.naturalWidth > 0, null,
    'the zone editor picture (German)');
  await shot(page, 'de-camera');
  await open(page, 'system', 'sys-oldest');
  assert((await text(page, 'sys-oldest')).match(/^Älteste Aufnahme: (vor |jetzt)/), `German: ${await text(page, 'sys-oldest')}`);
  await shot(page, 'de-system');
  await page.context().close();
}

async function phone(browser) {
  const page = current = await newPage(browser, { width: 390, height: 844 });
  await login(page, ...ADMIN);
  for (const [route, testid] of [['settings/cameras', `cam-row-${CAMERA}`], ['settings/alerts', 'alerts-mode-home'],
    ['settings/users', 'user-form'], ['system', 'sys-storage']]) {
    await open(page, route, testid);
    await noHorizontalScroll(page, route);
    await shot(page, `phone-${route.replace('/', '-')}`);
  }
  await open(page, 'settings/cameras', `cam-edit-${CAMERA}`);
  await page.getByTestId(`cam-edit-${CAMERA}`).click();
  await waitTrue(page, () => document.querySelector('[data-testid=zone-picture]')?.naturalWidth > 0, null,
    'the zone editor picture (phone)');
  await noHorizontalScroll(page, 'camera form');
  await shot(page, 'phone-camera-form');
  await page.context().close();
}

async function viewer(browser) {
  const page = current = await newPage(browser);
  await login(page, ...VIEWER);
  await page.goto(`${BASE_URL}/#/settings/cameras`);
  await page.getByTestId('not-allowed').waitFor({ timeout: 10000 });
  assert((await page.getByTestId('cams-add').count()) === 0, 'a viewer sees the camera form');
  await shot(page, 'viewer-not-allowed');
  await open(page, 'system', 'sys-storage');
  await page.context().close();
}

let current = null; // the page a failure screenshot is taken of

run(async (browser) => {
  try {
    const page = current = await newPage(browser);
    await login(page, ...ADMIN);
    await addCamera(page);
    await wrongPassword(page);
    await zoneAndFieldError(page);
    await zoneCap(page);
    await probeRefused(page);
    await deleteCamera(page);
    await alerts(page);
    await users(page);
    await system(page);
    await page.context().close();
    await german(browser);
    await phone(browser);
    await viewer(browser);
  } catch (e) {
    if (current && !current.isClosed()) await shot(current, 'FAILED').catch(() => {});
    throw e;
  }
});
