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

/** What each peer connection says about its transport and inbound media (for a failure's message). */
async function rtcStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      const stats = await pc.getStats();
      const keep = [];
      stats.forEach((s) => {
        if (['inbound-rtp', 'candidate-pair', 'transport', 'codec'].includes(s.type)) {
          const { type, kind, state, packetsReceived, bytesReceived, framesReceived, framesDecoded, keyFramesDecoded,
            packetsLost, nackCount, pliCount, firCount, mimeType, sdpFmtpLine, dtlsState, iceState, nominated,
            decoderImplementation } = s;
          keep.push({ type, kind, state, packetsReceived, bytesReceived, framesReceived, framesDecoded, keyFramesDecoded,
            packetsLost, nackCount, pliCount, firCount, mimeType, sdpFmtpLine, dtlsState, iceState, nominated,
            decoderImplementation });
        }
      });
      out.push({ connection: pc.connectionState, ice: pc.iceConnectionState, stats: keep,
        offer: pc.localDescription && pc.localDescription.sdp, answer: pc.remoteDescription && pc.remoteDescription.sdp });
    }
    return out;
  });
}

run(async (browser) => {
  const page = await newPage(browser);
  // Keep every RTCPeerConnection the page makes, to read its statistics.
  await page.addInitScript(() => {
    const Orig = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = function (...a) { const pc = new Orig(...a); window.__pcs.push(pc); return pc; };
    window.RTCPeerConnection.prototype = Orig.prototype;
    const setRemote = Orig.prototype.setRemoteDescription;
    window.__answers = [];
    Orig.prototype.setRemoteDescription = function (d) {
      const rec = { sdp: d && d.sdp };
      window.__answers.push(rec);
      return setRemote.call(this, d).catch((e) => { rec.error = String(e); throw e; });
    };
  });
  await login(page, process.env.ADMIN_USER, process.env.ADMIN_PASSWORD);
  await page.goto(`${BASE_URL}/#/camera/${CAMERA}`);
  try {
    await page.getByTestId('badge-webrtc').waitFor({ timeout: 20000 });
    await advances(page, 'WebRTC');
  } catch (e) {
    log(`WebRTC statistics: ${JSON.stringify(await rtcStats(page))}`);
    throw e;
  }
  // currentTime of a MediaStream runs whether or not a frame came: count decoded frames too.
  const framesDecoded = () => page.evaluate(async () => {
    let n = 0;
    for (const pc of window.__pcs) {
      const stats = await pc.getStats();
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
    }
    return n;
  });
  let decoded = 0;
  for (let i = 0; i < 40 && decoded <= 10; i++) {
    await page.waitForTimeout(500);
    decoded = await framesDecoded();
  }
  log(`frames decoded over WebRTC: ${decoded}`);
  if (decoded <= 10) {
    log(`WebRTC statistics: ${JSON.stringify(await rtcStats(page))}`);
    log(`answers: ${JSON.stringify(await page.evaluate(() => window.__answers))}`);
  }
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
