// offsite.mjs — an off-site target set up in headless Chromium against a real keepwatch and a real SeaweedFS
// (S3), driven by tests/it/offsite/admin.rs (which starts them and checks the config file afterwards).
//
// Steps: the Alerts page offers to add a target; a bad target URL is named at its field and nothing is
// listed; the form is filled (S3 endpoint, path style, key and secret, an age recipient, one camera), tested
// (a real round trip) and saved; the target is listed with its address and no secret; its card's test works;
// editing shows the credentials as stored, not the secret; the form in German. Screenshots
// `offsite-NN-step.png`.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, CAMERA, S3_ENDPOINT, S3_KEY, S3_SECRET, RECIPIENT.

import path from 'node:path';
import { SHOTS, BASE_URL, run, newPage, login, log, assert, waitTrue } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`offsite.mjs needs env ${k}`);
  return v;
};
const ADMIN = [env('ADMIN_USER'), env('ADMIN_PASSWORD')];
const CAMERA = env('CAMERA');
const S3_SECRET = env('S3_SECRET');

let n = 0;
async function shot(page, name) {
  n += 1;
  const file = path.join(SHOTS, `offsite-${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

run(async (browser) => {
  const page = await newPage(browser);
  await login(page, ...ADMIN);
  await page.goto(`${BASE_URL}/#/settings/alerts`);
  await page.getByTestId('offsite-add').waitFor({ timeout: 15000 });
  await page.getByTestId('offsite-none').waitFor();

  // A bad target URL is named at its field; nothing is listed.
  await page.getByTestId('offsite-add').click();
  await page.getByTestId('of-name').fill('bad');
  await page.getByTestId('of-target').fill('ftp://example.org/x');
  await page.getByTestId('of-recipients').fill(env('RECIPIENT'));
  await page.getByTestId('of-save').click();
  await page.locator('[data-testid=err-target]:not(:empty)').waitFor({ timeout: 10000 });
  log(`bad target: ${await page.getByTestId('err-target').textContent()}`);
  await shot(page, 'bad-target');
  await page.getByTestId('of-cancel').click();
  await page.getByTestId('offsite-none').waitFor();

  // The real thing: filled, tested, saved.
  await page.getByTestId('offsite-add').click();
  await page.getByTestId('of-name').fill('house');
  await page.getByTestId('of-target').fill('s3://kw-copies/house');
  await page.getByTestId('of-endpoint').fill(env('S3_ENDPOINT'));
  await page.getByTestId('of-path-style').check();
  await page.getByTestId('of-key').fill(env('S3_KEY'));
  await page.getByTestId('of-secret').fill('not-the-secret-1');
  await page.getByTestId('of-recipients').fill(env('RECIPIENT'));
  await page.getByTestId(`of-cam-${CAMERA}`).check();
  await page.getByTestId('of-keep-age').fill('30d');
  // A wrong secret first: the test says so.
  await page.getByTestId('of-test').click();
  await page.locator('[data-testid=of-test-result][data-ok=false]').waitFor({ timeout: 60000 });
  const kind = await page.getByTestId('of-test-error').getAttribute('data-kind');
  assert(kind === 'auth', `a wrong secret: ${kind} ${await page.getByTestId('of-test-result').textContent()}`);
  await shot(page, 'wrong-secret');
  await page.getByTestId('of-secret').fill(S3_SECRET);
  await page.getByTestId('of-test').click();
  await page.locator('[data-testid=of-test-result][data-ok=true]').waitFor({ timeout: 60000 });
  await shot(page, 'tested');
  await page.getByTestId('of-save').click();
  await waitTrue(page, () => document.querySelector('[data-testid=offsite-house]')
    || [...document.querySelectorAll('[data-testid=of-form] .adm-err')].some((e) => e.textContent), null, 'the list after saving');
  const errors = (await page.locator('[data-testid=of-form] .adm-err').allTextContents()).filter(Boolean);
  assert(errors.length === 0, `saving failed: ${errors.join('; ')}`);

  // Listed, with its address and no secret; its card's test works.
  const card = page.getByTestId('offsite-house');
  assert((await card.getByTestId('offsite-target').textContent()) === 's3://kw-copies/house', 'the target address');
  assert(!(await card.textContent()).includes(S3_SECRET), 'the secret is listed');
  assert(await page.getByTestId('offsite-bad').count() === 0, 'the refused target is listed');
  await page.getByTestId('offsite-test-house').click();
  await page.locator('[data-testid=offsite-test-house-result][data-ok=true]').waitFor({ timeout: 60000 });
  await shot(page, 'listed');

  // Editing: credentials shown as stored, never the secret.
  await page.getByTestId('offsite-edit-house').click();
  await page.getByTestId('of-secret').waitFor();
  assert((await page.getByTestId('of-secret').inputValue()) === '', 'the secret field is filled');
  assert(!(await page.content()).includes(S3_SECRET), 'the secret is in the page');
  assert(await page.getByTestId('of-cam-' + CAMERA).isChecked(), 'the camera is not ticked');
  await page.getByTestId('of-cancel').click();

  // German.
  const de = await newPage(browser, { locale: 'de-DE' });
  await login(de, ...ADMIN);
  await de.goto(`${BASE_URL}/#/settings/alerts`);
  await de.getByTestId('offsite-add').waitFor();
  assert((await de.getByTestId('offsite-add').textContent()).includes('hinzufügen'), 'German strings');
  await de.getByTestId('offsite-edit-house').click();
  await de.getByTestId('of-save').waitFor();
  assert((await de.getByTestId('of-test').textContent()) === 'Testen', 'German form strings');
  await shot(de, 'german');
});
