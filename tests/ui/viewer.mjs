// viewer.mjs — the viewer side of the web UI in headless Chromium against a real keepwatch (started by
// tests/it/ui_e2e.rs with RTSP cameras, one of them a motion clip): login, the live grid plays, a viewer sees
// only its camera and no admin pages, German strings and dates, a phone viewport without sideways
// scrolling, session expiry, events with pictures that play, scrubbing a minute back plays the
// recording, and export downloads an MP4 (saved to DOWNLOAD_PATH for ffprobe). Why one script: starting
// the server, the camera and Chromium is the slow part; every step after that takes a few seconds.
//
// Env: BASE_URL, ADMIN_USER, ADMIN_PASSWORD, VIEWER_USER, VIEWER_PASSWORD, CAMERA (RTSP, granted to the
// viewer), MOTION_CAMERA (RTSP, a box crosses a still scene every 20 s), HEVC_CAMERA (H.265 main, H.264
// sub), STARTED_MS (when the cameras streamed), DOWNLOAD_PATH, SCREENSHOT_DIR.

import { BASE_URL, run, newPage, login, screenshot, screenshotPrefix, log, assert, waitTrue, noHorizontalScroll,
  pageErrors } from './lib.mjs';

screenshotPrefix('viewer');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const CAMERA = env('CAMERA');
const MOTION = env('MOTION_CAMERA');
const STARTED = Number(env('STARTED_MS'));
const HEVC = env('HEVC_CAMERA');

/** currentTime of the first matching <video>. */
const videoTime = (page, sel) => page.$eval(sel, (v) => v.currentTime);

/** Fails unless the video matched by `sel` advances by `by` seconds within `timeout`. */
async function advances(page, sel, by, what, timeout = 20000) {
  await page.waitForSelector(sel, { timeout });
  const t0 = await videoTime(page, sel);
  await waitTrue(page, ([s, t, d]) => {
    const v = document.querySelector(s);
    return v && !v.paused && v.currentTime > t + d;
  }, [sel, t0, by], `${what}: video playing (currentTime past ${(t0 + by).toFixed(1)})`, timeout);
}

/** Clicks the timeline at wall time `ms`. */
async function clickTimeline(page, ms) {
  const bar = page.getByTestId('timeline');
  const box = await bar.boundingBox();
  const [vs, ve] = await bar.evaluate((b) => [Number(b.dataset.viewStart), Number(b.dataset.viewEnd)]);
  assert(ms > vs && ms < ve, `time ${new Date(ms).toISOString()} not in the timeline's view`);
  const x = box.x + ((ms - vs) / (ve - vs)) * box.width;
  await page.mouse.click(x, box.y + box.height / 2);
}

await run(async (browser) => {
  // --- Admin on a laptop: login, the grid plays every camera ------------------------------------------
  const page = await newPage(browser, { width: 1280, height: 800, locale: 'en-US', colorScheme: 'dark' });
  await page.goto(`${BASE_URL}/`);
  await page.getByTestId('login-user').waitFor();
  await screenshot(page, 'login');
  await page.getByTestId('login-user').fill(env('ADMIN_USER'));
  await page.getByTestId('login-password').fill('wrong password');
  await page.getByTestId('login-submit').click();
  await waitTrue(page, () => document.querySelector('[data-testid=login-error]')?.textContent.length > 0, null,
    'a wrong password is refused with a message');
  await login(page, env('ADMIN_USER'), env('ADMIN_PASSWORD'));
  await page.getByTestId(`tile-${CAMERA}`).waitFor();
  for (const cam of [CAMERA, MOTION, HEVC]) {
    await advances(page, `[data-testid=tile-${cam}] video`, 1.0, `grid tile ${cam}`);
  }
  assert(await page.getByTestId('nav-settings-cameras').count() === 1, 'admins see the camera settings');
  await page.getByTestId('mode-home').click();
  await waitTrue(page, () => document.querySelector('[data-testid=mode-home]').getAttribute('aria-checked') === 'true',
    null, 'mode switched to home');
  await page.getByTestId('mode-away').click();
  await screenshot(page, 'grid-laptop');
  log('grid plays');

  // --- A viewer on a phone: one camera, no admin pages, German, no sideways scrolling, expiry -------------
  const phone = await newPage(browser, { width: 390, height: 844, locale: 'en-US' });
  await login(phone, env('VIEWER_USER'), env('VIEWER_PASSWORD'));
  await phone.getByTestId(`tile-${CAMERA}`).waitFor();
  await advances(phone, `[data-testid=tile-${CAMERA}] video`, 0.5, 'viewer grid');
  assert(await phone.locator('[data-testid=grid] > .tile').count() === 1, 'the viewer sees exactly its one camera');
  assert(await phone.getByTestId('nav-settings-cameras').count() === 0, 'no camera settings nav for a viewer');
  assert(await phone.locator('[data-testid^=nav-settings]').count() === 0,
    'no admin nav entries for a viewer');
  await noHorizontalScroll(phone, 'phone grid');
  await screenshot(phone, 'grid-phone');
  await phone.goto(`${BASE_URL}/#/settings/cameras`);
  await phone.getByTestId('not-allowed').waitFor();
  await screenshot(phone, 'viewer-not-allowed');
  await phone.goto(`${BASE_URL}/#/camera/${CAMERA}`);
  await advances(phone, '[data-testid=stage] video[data-testid=live-video]', 0.5, 'phone camera view');
  await noHorizontalScroll(phone, 'phone camera view');
  await screenshot(phone, 'camera-phone');
  await phone.goto(`${BASE_URL}/#/events`);
  await phone.getByTestId('events').waitFor();
  await noHorizontalScroll(phone, 'phone events');
  await screenshot(phone, 'events-phone');
  // German: the nav, and dates as 27.11.2026.
  await phone.getByTestId('lang').selectOption('de');
  await waitTrue(phone, () => document.querySelector('[data-testid=nav-events]')?.textContent === 'Ereignisse', null,
    'German nav');
  assert(await phone.evaluate(() => document.documentElement.lang) === 'de', '<html lang=de>');
  await phone.goto(`${BASE_URL}/#/camera/${CAMERA}`);
  await waitTrue(phone, () => /\d{1,2}\.\d{1,2}\.\d{4}/.test(document.querySelector('[data-testid=clock]')?.textContent || ''),
    null, 'a German date (dd.mm.yyyy) on the camera page');
  await noHorizontalScroll(phone, 'phone camera view (German)');
  await screenshot(phone, 'camera-phone-de');
  // The session ends (cookie gone): the next request lands on the login page with a message.
  await phone.context().clearCookies();
  await phone.evaluate(() => { location.hash = '#/events'; });
  await phone.getByTestId('login-user').waitFor({ timeout: 15000 });
  const msg = await phone.getByTestId('login-error').textContent();
  assert(/Sitzung/.test(msg), `expiry message in German, got ${JSON.stringify(msg)}`);
  await screenshot(phone, 'session-expired-de');
  await phone.context().close();
  log('viewer ok');

  // --- Events: the motion clip's crossing box, with a picture; a click plays it ----------------------------
  await page.goto(`${BASE_URL}/#/events`);
  await page.getByTestId('ev-camera').selectOption(MOTION);
  await page.getByTestId('ev-kind').selectOption('motion');
  const evSel = `[data-testid=event][data-camera=${MOTION}]`;
  for (let i = 0; i < 60 && !(await page.$(`${evSel} img`)); i++) {
    await page.waitForTimeout(1000);
    await page.getByTestId('ev-apply').click();
  }
  const ev = page.locator(evSel).last();
  await ev.locator('img').waitFor();
  await waitTrue(page, (s) => {
    const imgs = [...document.querySelectorAll(s)];
    return imgs.length && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, `${evSel} img`, 'event thumbnails loaded (naturalWidth > 0)');
  await screenshot(page, 'events-laptop');
  const evStart = Date.parse(await ev.getAttribute('data-start'));
  await ev.click();
  await page.waitForURL(/#\/camera\//);
  await advances(page, '[data-testid=rec-video]', 1.0, 'event playback', 30000);
  const shown = Number(await page.getByTestId('clock').getAttribute('data-t'));
  assert(shown >= evStart - 5000 - 1500 && shown <= evStart + 30000,
    `event playback shows ${new Date(shown).toISOString()}, event started ${new Date(evStart).toISOString()}`);
  await screenshot(page, 'event-playback');
  // Next event: the clip's next crossing, a loop (20 s) later (waited for when it is still to come,
  // paused meanwhile so the cursor stays before it).
  await page.getByTestId('play').click();
  await waitTrue(page, () => document.querySelector('[data-testid=rec-video]').paused, null, 'pause');
  for (let i = 0; i < 60; i++) {
    const later = await page.evaluate(async ([cam, t]) => {
      const r = await fetch(`/api/events?camera=${cam}&kind=motion`);
      return (await r.json()).filter((e) => Date.parse(e.start) > t + 5000).length;
    }, [MOTION, evStart]);
    if (later) break;
    await page.waitForTimeout(500);
  }
  await page.getByTestId('next-event').click();
  await waitTrue(page, (t) => Number(document.querySelector('[data-testid=clock]').dataset.t) > t + 5000, shown,
    'next event moves the cursor forward');
  await advances(page, '[data-testid=rec-video]', 0.5, 'next event playback', 30000);
  // Zoom buttons change the visible span.
  const span = () => page.getByTestId('timeline').evaluate((b) => b.dataset.viewEnd - b.dataset.viewStart);
  const before = await span();
  await page.getByTestId('zoom-in').click();
  await waitTrue(page, (b) => {
    const el = document.querySelector('[data-testid=timeline]');
    return el.dataset.viewEnd - el.dataset.viewStart < b * 0.75;
  }, before, 'zoom in halves the span');
  log('events ok');

  // --- An H.265 camera (no HEVC in this browser's MSE) plays its H.264 sub-stream, with a badge ------------
  await page.goto(`${BASE_URL}/#/camera/${HEVC}`);
  await page.getByTestId('badge-sub').waitFor({ timeout: 15000 });
  await advances(page, '[data-testid=stage] video[data-testid=live-video]', 0.5, 'H.265 camera via its sub-stream');
  await screenshot(page, 'hevc-sub-stream');
  log('hevc fallback ok');

  // --- Scrub back on the RTSP camera: recorded video plays from there -------------------------------------
  await page.goto(`${BASE_URL}/#/camera/${CAMERA}`);
  await advances(page, '[data-testid=stage] video[data-testid=live-video]', 0.5, 'camera live view');
  await page.getByTestId('zoom-5m').click();
  await page.waitForTimeout(300);
  // The timeline narrowed to one object label asks for those events only, and back.
  const labelled = page.waitForRequest((r) => r.url().includes('/api/events?') && r.url().includes('label=person'));
  await page.getByTestId('tl-label').selectOption('person');
  await labelled;
  const all = page.waitForRequest((r) => r.url().includes('/api/events?') && !r.url().includes('label='));
  await page.getByTestId('tl-label').selectOption('');
  await all;
  // A minute back: wait until ~65 s are recorded, then go 60 s back.
  const wait = STARTED + 65000 - Date.now();
  if (wait > 0) await page.waitForTimeout(wait);
  const target = Date.now() - 60000;
  await clickTimeline(page, target);
  await advances(page, '[data-testid=rec-video]', 1.5, 'recorded playback after scrubbing', 30000);
  const at = Number(await page.getByTestId('clock').getAttribute('data-t'));
  assert(Math.abs(at - target) < 15000,
    `after scrubbing to ${new Date(target).toISOString()} the clock shows ${new Date(at).toISOString()}`);
  // The shown time follows the video: wall = window start + currentTime.
  await page.getByTestId('speed-2').click();
  assert(await page.$eval('[data-testid=rec-video]', (v) => v.playbackRate) === 2, 'speed 2×');
  await page.waitForTimeout(1000);
  await screenshot(page, 'scrubbed-recording');
  await page.getByTestId('speed-1').click();
  log('scrub ok');

  // --- Export the range around the cursor: download with progress, saved for ffprobe -----------------------
  await page.getByTestId('export-open').click();
  const startValue = await page.getByTestId('export-start').inputValue();
  assert(/\d{4}-\d\d-\d\dT\d\d:\d\d/.test(startValue), `export start filled in: ${startValue}`);
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 60000 }),
    page.getByTestId('export-download').click(),
  ]);
  const name = download.suggestedFilename();
  assert(new RegExp(`^${CAMERA}-\\d{4}-\\d\\d-\\d\\dT\\d{6}Z\\.mp4$`).test(name), `download name ${name}`);
  await download.saveAs(env('DOWNLOAD_PATH'));
  await waitTrue(page, () => document.querySelector('[data-testid=export-status]')?.dataset.state === 'done', null,
    'export status');
  await screenshot(page, 'export');
  log(`export saved as ${name}`);

  // --- Live again in one tap, then sign out -----------------------------------------------------------------
  await page.getByTestId('live-toggle').click();
  await advances(page, '[data-testid=stage] video[data-testid=live-video]', 0.5, 'back to live');
  await page.getByTestId('logout').click();
  await page.getByTestId('login-user').waitFor();
  log('logout ok');
  assert(pageErrors.length === 0, `uncaught errors in the pages: ${pageErrors.join('; ')}`);
});
