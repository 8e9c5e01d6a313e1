// webrtc.js — the WebRTC (WHEP) live path the player tries first. Why: it is the lowest-latency picture a
// browser can show (no MSE buffer, no fragments): the server sends the camera's own H.264 over RTP. When
// it cannot start (no RTCPeerConnection, an H.265 stream, a network that blocks UDP, the server refusing),
// the caller falls back to the WebSocket/MSE path, then HLS. It is the default; a browser can be kept on the
// WebSocket/MSE path with localStorage 'kw.webrtc' = 'off'.

import { api } from './core.js';

/** Whether to try WebRTC for a camera stream at all. */
export function webrtcWanted(cam, stream) {
  if (!window.RTCPeerConnection) return false;
  try { if (localStorage.getItem('kw.webrtc') === 'off') return false; } catch (_) { /* no storage: default */ }
  // H.265 main streams cannot go this way; their H.264 sub-stream can.
  return stream === 'sub' || cam.codec !== 'h265';
}

/** Waits until ICE gathering is done (or 2 s), so the offer carries its candidates (WHEP has no trickle here). */
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') { pc.removeEventListener('icegatheringstatechange', done); resolve(); } };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, 2000);
  });
}

/**
 * Starts a WebRTC view of `name` into `video`; resolves to a session with `close()`, or rejects (the caller
 * falls back). `onFail` is called if an established session breaks later.
 */
export async function startWebrtc(video, name, stream, onFail) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const ms = new MediaStream();
  pc.ontrack = (e) => { ms.addTrack(e.track); if (video.srcObject !== ms) video.srcObject = ms; };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const q = stream === 'sub' ? '?stream=sub' : '';
  const path = `/api/cameras/${encodeURIComponent(name)}/whep${q}`;
  let r;
  try {
    r = await api(path, { method: 'POST', body: pc.localDescription.sdp, headers: { 'content-type': 'application/sdp' }, raw: true });
  } catch (e) {
    pc.close();
    throw e;
  }
  const location = r.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pc.close();
    if (location) api(location, { method: 'DELETE' }).catch(() => {});
  };
  pc.addEventListener('connectionstatechange', () => {
    if (!closed && ['failed', 'disconnected', 'closed'].includes(pc.connectionState)) { close(); onFail(); }
  });
  return { pc, close };
}
