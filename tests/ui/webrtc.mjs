// webrtc.mjs — the WebRTC (WHEP) live view in headless Chromium against a real keepwatch (started by
// tests/it/webrtc_view.rs with an RTSP camera): the camera view plays through WebRTC (its badge shows,
// video.currentTime advances, getStats() counts decoded frames, a frame is drawn into a canvas), and with
// WebRTC turned off (localStorage kw.webrtc = off) the same view falls back to the WebSocket/MSE path.
//
// Env: BASE_URL, ADMIN_USER, ADMIN_PASSWORD, CAMERA, SCREENSHOT_DIR.

import { BASE_URL, run, newPage, login, screenshot, screenshotPrefix, log, assert, waitTrue } from './lib.mjs';

screenshotPrefix('webrtc');
const CAMERA = process.env.CAMERA;
const VIDEO = '[data-testid=stage] video[data-testid=live-video]';

async function advances(page, what) {
  await page.waitForSelector(VIDEO, { timeout: 20000 });
  const t0 = await page.$eval(VIDEO, (v) => v.currentTime);
  await waitTrue(page, ([s, t]) => {
    const v = document.querySelector(s);
    return v && !v.paused && v.currentTime > t + 1;
  }, [VIDEO, t0], `${what}: video.currentTime advances`, 30000);
}

run(async (browser) => {
  const page = await newPage(browser);
  // Keep every RTCPeerConnection the page makes, to read its statistics.
  await page.addInitScript(() => {
    const Orig = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = function (...a) { const pc = new Orig(...a); window.__pcs.push(pc); return pc; };
    window.RTCPeerConnection.prototype = Orig.prototype;
  });
  await login(page, process.env.ADMIN_USER, process.env.ADMIN_PASSWORD);
  await page.goto(`${BASE_URL}/#/camera/${CAMERA}`);
  await page.getByTestId('badge-webrtc').waitFor({ timeout: 20000 });
  await advances(page, 'WebRTC');
  const decoded = await page.evaluate(async () => {
    let n = 0;
    for (const pc of window.__pcs) {
      const stats = await pc.getStats();
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
    }
    return n;
  });
  log(`frames decoded over WebRTC: ${decoded}`);
  assert(decoded > 10, `getStats() shows ${decoded} decoded frames`);
  // A frame is really drawn: copy it into a canvas and look for a picture that is not all one colour.
  const spread = await page.$eval(VIDEO, (v) => {
    const c = document.createElement('canvas');
    c.width = 64; c.height = 36;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, 64, 36);
    const d = g.getImageData(0, 0, 64, 36).data;
    let lo = 255; let hi = 0;
    for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
    return hi - lo;
  });
  assert(spread > 30, `the drawn frame is flat (green spread ${spread})`);
  await screenshot(page, 'webrtc-playing');

  // The fallback chain: WebRTC off → WebSocket/MSE.
  await page.evaluate(() => localStorage.setItem('kw.webrtc', 'off'));
  await page.reload();
  await page.waitForSelector('header.topbar');
  await advances(page, 'WebSocket/MSE fallback');
  assert(await page.getByTestId('badge-webrtc').count() === 0, 'WebRTC badge shown with WebRTC off');
  await screenshot(page, 'mse-fallback');
});
