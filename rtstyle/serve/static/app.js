// rtstyle live: send the camera to the server over WebRTC, show what comes back.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
const state = { id: null, pc: null, server: null, fps: null, framesDecoded: null, t: null,
                stylised: true, error: null };

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers["X-Rtstyle-Token"] = token;
  const r = await fetch(path, { ...options, headers });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

const postJSON = (path, body) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

function showError(text) {
  state.error = text;
  $("message").textContent = text;
  $("message").hidden = !text;
}

function fillMenu(menu) {
  const groups = { "built-in": "Built-in styles", user: "My styles", painting: "Paintings (style-swap)" };
  const select = $("style");
  for (const [kind, label] of Object.entries(groups)) {
    const items = menu.styles.filter((s) => s.kind === kind);
    if (!items.length) continue;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const s of items) group.append(new Option(s.name, s.id, false, s.id === menu.default));
    select.append(group);
  }
}

// Keep only ICE candidates on the addresses the server allows (loopback in tests).
function filterCandidates(sdp, allowed) {
  if (!allowed) return sdp;
  return sdp.split("\r\n").filter((line) => !line.startsWith("a=candidate:")
    || allowed.includes(line.split(" ")[4])).join("\r\n");
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function start() {
  const menu = await api("/api/styles");
  fillMenu(menu);
  const camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  const sender = pc.addTrack(camera.getVideoTracks()[0], camera);
  const params = sender.getParameters();
  params.degradationPreference = "maintain-resolution";
  await sender.setParameters(params).catch(() => {});
  pc.ontrack = (e) => { $("video").srcObject = new MediaStream([e.track]); };
  pc.onconnectionstatechange = () => { $("status").textContent = `connection ${pc.connectionState}`; };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const answer = await postJSON("/api/offer", {
    sdp: filterCandidates(pc.localDescription.sdp, menu.ice), type: "offer", style: $("style").value });
  state.id = answer.id;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  addEventListener("pagehide", () => {
    navigator.sendBeacon(`/api/clients/${state.id}/leave${token ? "?token=" + encodeURIComponent(token) : ""}`);
  });
  setInterval(poll, 1000);
}

async function poll() {
  const stats = await state.pc.getStats();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      const now = performance.now();
      if (state.t !== null) state.fps = (s.framesDecoded - state.framesDecoded) * 1000 / (now - state.t);
      state.framesDecoded = s.framesDecoded;
      state.t = now;
    }
  });
  try {
    state.server = await api(`/api/clients/${state.id}`);
  } catch (e) { showError(e.message); return; }
  const s = state.server;
  const fps = state.fps === null ? "–" : state.fps.toFixed(1);
  const lat = s.latency_ms ? `${Math.round(s.latency_ms)} ms` : "–";
  const showing = s.showing === s.style ? s.label : s.showing;
  $("overlay").textContent = `${fps} FPS · server latency ${lat} · ${showing}`;
}

async function settings(body) {
  try {
    state.server = await postJSON(`/api/clients/${state.id}/settings`, body);
    showError("");
  } catch (e) { showError(e.message); }
}

function grab() {
  const v = $("video");
  const c = document.createElement("canvas");
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  c.getContext("2d").drawImage(v, 0, 0);
  return c;
}

$("style").addEventListener("change", (e) => settings({ style: e.target.value }));
$("strength").addEventListener("input", (e) => {
  $("strength-value").textContent = Number(e.target.value).toFixed(2);
  settings({ strength: Number(e.target.value) });
});
$("toggle").addEventListener("click", () => {
  state.stylised = !state.stylised;
  $("toggle").textContent = state.stylised ? "Show original" : "Show stylised";
  settings({ stylised: state.stylised });
});
$("snapshot").addEventListener("click", () => {
  grab().toBlob((blob) => {
    const a = $("download");
    a.href = URL.createObjectURL(blob);
    a.hidden = false;
    a.click();
  }, "image/png");
});
$("painting").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const r = await api(`/api/clients/${state.id}/painting?name=${encodeURIComponent(file.name)}`, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
    let mine = $("style").querySelector("option[data-upload]");
    if (!mine) {
      mine = new Option("", "");
      mine.dataset.upload = "1";
      $("style").append(mine);
    }
    mine.text = `my painting: ${file.name}`;
    mine.value = r.style;
    $("style").value = r.style;
    showError("");
  } catch (err) { showError(err.message); }
});

// For tests and the snapshot button: the shown frame as a PNG data URL, and the state.
window.rtstyle = { state, grab: () => grab().toDataURL("image/png") };

start().catch((e) => { showError(e.message); $("overlay").textContent = "not connected"; });
