// protect.mjs — "keep this clip" in headless Chromium against a real keepwatch, driven by tests/it/protected.rs
// (which checks the protections through the API afterwards): an admin keeps a motion event from the events
// list (with a note; the card then says "Kept", also after a reload) and a range from the camera view's
// export panel. Screenshots `protect-NN-name.png`.
//
// Env: BASE_URL, SCREENSHOT_DIR, ADMIN_USER/ADMIN_PASSWORD, CAMERA, EVENT_ID.

import { BASE_URL, run, newPage, login, log, assert, waitTrue, screenshot, screenshotPrefix } from './lib.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`protect.mjs needs env ${k}`);
  return v;
};

run(async (browser) => {
  screenshotPrefix('protect');
  const page = await newPage(browser);
  await login(page, env('ADMIN_USER'), env('ADMIN_PASSWORD'));

  // The events list: keep one event with a note.
  await page.goto(`${BASE_URL}/#/events`);
  const card = page.locator(`[data-testid=event][data-id="${env('EVENT_ID')}"]`).locator('xpath=..');
  await card.getByTestId('ev-keep-note').fill('from the list');
  await card.getByTestId('ev-keep').click();
  await card.getByTestId('ev-kept').waitFor({ timeout: 10000 });
  await screenshot(page, 'event-kept');
  await page.reload();
  await page.locator(`[data-testid=event][data-id="${env('EVENT_ID')}"]`).locator('xpath=..')
    .getByTestId('ev-kept').waitFor({ timeout: 10000 });
  log('event kept');

  // The camera view: the export panel's range, kept with a note.
  await page.goto(`${BASE_URL}/#/camera/${encodeURIComponent(env('CAMERA'))}`);
  await page.getByTestId('export-open').click();
  await page.getByTestId('keep-note').fill('from the range');
  await page.getByTestId('keep-range').click();
  await waitTrue(page, () => /Kept/.test(document.querySelector('[data-testid=export-status]')?.textContent || ''), null,
    'the range kept');
  await screenshot(page, 'range-kept');
  const list = await page.evaluate(async () => (await fetch('/api/protected')).json());
  assert(list.length === 2, `protections: ${JSON.stringify(list)}`);
  log('range kept');
  await page.context().close();
});
