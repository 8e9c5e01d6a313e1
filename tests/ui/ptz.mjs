// ptz.mjs — the PTZ controls of the camera view in headless Chromium against the test ONVIF camera, driven
// by tests/it/ptz.rs (which reads the calls the camera recorded afterwards): a held arrow button moves and
// stops on release, the drag pad moves and stops, the keyboard arrows move while the pad has focus, zoom,
// home, and presets (save the current position, go to it, delete it). A camera without PTZ shows no
// controls. Screenshots `ptz-NN-step.png`.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, PTZ_CAMERA, FIXED_CAMERA.

import path from 'node:path';
import { SHOTS, BASE_URL, run, newPage, login, log, assert, waitTrue } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`ptz.mjs needs env ${k}`);
  return v;
};
const ADMIN = [env('ADMIN_USER'), env('ADMIN_PASSWORD')];

let n = 0;
async function shot(page, name) {
  n += 1;
  const file = path.join(SHOTS, `ptz-${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

/** Waits until no PTZ request is in flight (the status line stays empty on success). */
async function settle(page) {
  await page.waitForTimeout(400);
  const said = await page.getByTestId('ptz-status').textContent();
  assert(!said, `PTZ said: ${said}`);
}

async function hold(page, testid, ms = 400) {
  const b = page.getByTestId(testid);
  const box = await b.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.waitForTimeout(ms);
  await page.mouse.up();
  await settle(page);
}

run(async (browser) => {
  const page = await newPage(browser);
  await login(page, ...ADMIN);

  // No controls for a camera without PTZ.
  await page.goto(`${BASE_URL}/#/camera/${env('FIXED_CAMERA')}`);
  await page.getByTestId('stage').waitFor();
  await page.waitForTimeout(3000);
  assert(await page.getByTestId('ptz').count() === 0, 'PTZ controls on a camera without PTZ');

  await page.goto(`${BASE_URL}/#/camera/${env('PTZ_CAMERA')}`);
  await page.getByTestId('ptz').waitFor({ timeout: 20000 });
  await shot(page, 'controls');

  await hold(page, 'ptz-right');
  // The pad: press in the upper left quarter, drag, release.
  const pad = await page.getByTestId('ptz-pad').boundingBox();
  await page.mouse.move(pad.x + pad.width * 0.25, pad.y + pad.height * 0.25);
  await page.mouse.down();
  await page.waitForTimeout(300);
  await page.mouse.move(pad.x + pad.width * 0.9, pad.y + pad.height * 0.5, { steps: 5 });
  await page.waitForTimeout(300);
  await page.mouse.up();
  await settle(page);
  // Keyboard: an arrow held while the pad has focus.
  await page.getByTestId('ptz-pad').focus();
  await page.keyboard.down('ArrowUp');
  await page.waitForTimeout(300);
  await page.keyboard.up('ArrowUp');
  await settle(page);
  await hold(page, 'ptz-zoom-in');
  await page.getByTestId('ptz-home').click();
  await settle(page);

  // Presets: save the current position, go to it, delete it.
  await page.getByTestId('ptz-preset-name').fill('Gate');
  await page.getByTestId('ptz-save').click();
  await waitTrue(page, () => [...document.querySelectorAll('[data-testid=ptz-presets] option')].some((o) => o.textContent === 'Gate'),
    null, 'the saved preset listed');
  await page.getByTestId('ptz-presets').selectOption({ label: 'Gate' });
  await page.getByTestId('ptz-goto').click();
  await settle(page);
  await shot(page, 'preset');
  await page.getByTestId('ptz-delete').click();
  await waitTrue(page, () => ![...document.querySelectorAll('[data-testid=ptz-presets] option')].some((o) => o.textContent === 'Gate'),
    null, 'the deleted preset gone');
});
