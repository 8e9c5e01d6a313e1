// bench/webrtc/latency.mjs — which frame the web UI's live view shows, and when: for SECONDS it reads the
// frame number burned into each presented picture (a 12-bit barcode in the top rows, see bench/webrtc/run)
// with requestVideoFrameCallback, and prints one JSON line {mode, samples: [[frame, wall ms], ...]}, the
// wall time being when the browser expected to show that picture. bench/webrtc/run turns that into
// glass-to-glass latency against the times keepwatch recorded the same frames.
//
// Env: BASE_URL, KW_USER, KW_PASSWORD, CAMERA, SECONDS, MODE (`webrtc`: the UI's default path; `mse`: the
// WebSocket/MSE path, WebRTC turned off). Run with cwd = tests/ui (its node_modules has playwright-core).
import { createRequire } from 'node:module';

const { chromium } = createRequire(`${process.cwd()}/`)('playwright-core');
const BASE = process.env.BASE_URL;
const MODE = process.env.MODE || 'webrtc';
const SECONDS = Number(process.env.SECONDS || 20);
const VIDEO = '[data-testid=stage] video[data-testid=live-video]';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.addInitScript((mode) => localStorage.setItem('kw.webrtc', mode === 'mse' ? 'off' : 'on'), MODE);
  const r = await page.request.post(`${BASE}/api/login`, { data: { username: process.env.KW_USER, password: process.env.KW_PASSWORD } });
  if (!r.ok()) throw new Error(`login: ${r.status()}`);
  await page.goto(`${BASE}/#/camera/${process.env.CAMERA}`);
  await page.waitForSelector(VIDEO, { timeout: 20000 });
  if (MODE === 'webrtc') await page.getByTestId('badge-webrtc').waitFor({ timeout: 20000 });
  // Let the path settle (first key frame, MSE buffer) before measuring.
  await page.waitForTimeout(3000);
  const webrtcShown = await page.getByTestId('badge-webrtc').count();
  const samples = await page.$eval(VIDEO, (v, seconds) => new Promise((resolve) => {
    const c = document.createElement('canvas');
    c.width = 640; c.height = 360;
    const g = c.getContext('2d', { willReadFrequently: true });
    const out = [];
    const until = performance.now() + seconds * 1000;
    const onFrame = (_now, meta) => {
      g.drawImage(v, 0, 0, 640, 360);
      const row = g.getImageData(0, 16, 480, 1).data;
      let n = 0;
      for (let bit = 0; bit < 12; bit++) if (row[(20 + 40 * bit) * 4] > 128) n |= 1 << bit;
      out.push([n, performance.timeOrigin + meta.expectedDisplayTime]);
      if (performance.now() < until) v.requestVideoFrameCallback(onFrame);
      else resolve(out);
    };
    v.requestVideoFrameCallback(onFrame);
  }), SECONDS);
  process.stdout.write(`${JSON.stringify({ mode: MODE, webrtcShown: webrtcShown > 0, samples })}\n`);
} finally {
  await browser.close();
}
