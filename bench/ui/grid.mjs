// bench/ui/grid.mjs — how long the web UI's live grid takes to show moving pictures, against the raw
// protocol it sits on, measured in the same browser against the same server in the same run.
//
// For each round: (a) the UI: navigate to `#/live` (already logged in) and wait until every grid <video>
// has advanced (currentTime > 0.05 s); (b) the baseline: from the same page, open one plain WebSocket per
// camera to `/api/cameras/NAME/live` and wait for the first media segment (the 3rd message: info, init,
// media) on every socket. (a)/(b) is what the UI adds on top of the protocol: module loading, MediaSource
// setup, decoding and the first painted frame. Prints one JSON line.
import { createRequire } from 'node:module';

// playwright-core lives in tests/ui/node_modules; resolve it from there (run with cwd = tests/ui).
const { chromium } = createRequire(`${process.cwd()}/`)('playwright-core');

const BASE = process.env.BASE_URL;
const ROUNDS = Number(process.env.ROUNDS || 10);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
const r = await page.request.post(`${BASE}/api/login`, { data: { username: process.env.KW_USER, password: process.env.KW_PASSWORD } });
if (!r.ok()) throw new Error(`login: ${r.status()}`);
const cams = (await (await page.request.get(`${BASE}/api/cameras`)).json()).map((c) => c.name);

const ui = [];
const raw = [];
for (let i = 0; i < ROUNDS; i++) {
  await page.goto(`${BASE}/#/system`);
  await page.waitForSelector('header.topbar');
  const t0 = Date.now();
  await page.goto(`${BASE}/#/live`);
  await page.waitForFunction((n) => {
    const v = [...document.querySelectorAll('video')];
    return v.length >= n && v.every((x) => x.currentTime > 0.05);
  }, cams.length, { timeout: 30000, polling: 10 });
  ui.push(Date.now() - t0);
  await page.goto(`${BASE}/#/system`);
  await page.waitForSelector('header.topbar');
  raw.push(await page.evaluate(async (names) => {
    const t = performance.now();
    await Promise.all(names.map((n) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/cameras/${n}/live`);
      ws.binaryType = 'arraybuffer';
      let count = 0;
      ws.onmessage = () => { count += 1; if (count === 3) { ws.close(); resolve(); } };
      ws.onerror = () => reject(new Error(`websocket ${n}`));
    })));
    return performance.now() - t;
  }, cams));
}
await browser.close();
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const p90 = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]; };
console.log(JSON.stringify({ cameras: cams.length, rounds: ROUNDS, ui_ms: ui, raw_ms: raw.map(Math.round),
  ui_median: med(ui), raw_median: Math.round(med(raw)), ui_p90: p90(ui), raw_p90: Math.round(p90(raw)),
  ratio_median: +(med(ui) / med(raw)).toFixed(2) }));
