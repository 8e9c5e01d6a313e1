// camera_tls.mjs — trust on first use in the camera form, in headless Chromium against a real keepwatch and a
// real HTTPS camera with a self-signed certificate; driven by tests/it/ui_camera_tls.rs (which checks the
// config file afterwards). English: "Test connection" names the untrusted certificate and its fingerprint,
// "Trust this certificate" fills the field and the probe then works, saving keeps it. German: the same offer
// in German.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, CAMERA_URL, FINGERPRINT (as openssl computes it).

import { BASE_URL, run, newPage, login, log, assert, waitTrue, screenshot, screenshotPrefix } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`camera_tls.mjs needs env ${k}`);
  return v;
};
const [USER, PASSWORD] = [env('ADMIN_USER'), env('ADMIN_PASSWORD')];
const URL = env('CAMERA_URL');
const FINGERPRINT = env('FINGERPRINT');

async function testConnection(page) {
  await page.getByTestId('cam-test').click();
  await page.locator('[data-testid=cam-probe-result][data-ok]').waitFor({ timeout: 20000 });
  return page.getByTestId('cam-probe-result').getAttribute('data-ok');
}

async function newCameraForm(page, name) {
  await page.goto(`${BASE_URL}/#/settings/cameras`);
  await page.getByTestId('cams-add').click();
  await page.getByTestId('cam-name').fill(name);
  await page.getByTestId('cam-url').fill(URL);
}

screenshotPrefix('camera-tls');
await run(async (browser) => {
  const page = await newPage(browser);
  await login(page, USER, PASSWORD);
  await newCameraForm(page, 'porch');
  assert(await testConnection(page) === 'false', 'an untrusted certificate must not probe fine');
  assert(await page.getByTestId('cam-probe-error').getAttribute('data-kind') === 'certificate', 'kind certificate');
  const seen = (await page.getByTestId('cam-tls-seen').textContent()).trim();
  assert(seen === FINGERPRINT, `the fingerprint shown (${seen}) is the certificate's (${FINGERPRINT})`);
  await screenshot(page, 'offer');
  await page.getByTestId('cam-tls-trust').click();
  await waitTrue(page, () => document.querySelector('[data-testid=cam-probe-result]')?.dataset.ok === 'true', null,
    'the probe to work with the certificate trusted');
  assert(await page.getByTestId('cam-tls-fingerprint').inputValue() === FINGERPRINT, 'the field holds the fingerprint');
  await screenshot(page, 'trusted');
  await page.getByTestId('cam-save').click();
  await page.getByTestId('cam-row-porch').waitFor({ timeout: 20000 });
  log('saved with the trusted certificate');

  const de = await newPage(browser, { locale: 'de-DE' });
  await login(de, USER, PASSWORD);
  await newCameraForm(de, 'garten');
  assert(await testConnection(de) === 'false', 'untrusted again without the fingerprint');
  const headline = (await de.getByTestId('cam-probe-error').textContent()).trim();
  assert(headline === 'Dem HTTPS-Zertifikat der Kamera wird nicht vertraut', `German headline: ${headline}`);
  const button = (await de.getByTestId('cam-tls-trust').textContent()).trim();
  assert(button === 'Diesem Zertifikat vertrauen', `German button: ${button}`);
  await screenshot(de, 'offer-de');
  await de.getByTestId('cam-cancel').click();
});
