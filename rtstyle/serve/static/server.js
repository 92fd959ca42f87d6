// Server mode: send the camera to the server over WebRTC, show what comes back.
"use strict";

import { $, api, cameraConstraints, fillMenu, showError, state, token } from "/static/app.js";

const postJSON = (path, body) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

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

let sender = null;
const counter = { frames: null, t: null };

export async function start() {
  const menu = await api("/api/styles");
  fillMenu(menu.styles, menu.default);
  const camera = await navigator.mediaDevices.getUserMedia(cameraConstraints());
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  sender = pc.addTrack(camera.getVideoTracks()[0], camera);
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
  bindControls();
  setInterval(poll, 1000);
}

async function poll() {
  const stats = await state.pc.getStats();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      const now = performance.now();
      if (counter.t !== null) state.fps = (s.framesDecoded - counter.frames) * 1000 / (now - counter.t);
      counter.frames = s.framesDecoded;
      counter.t = now;
    }
  });
  try {
    state.server = await api(`/api/clients/${state.id}`);
  } catch (e) { showError(e.message); return; }
  const s = state.server;
  const fps = state.fps === null ? "–" : state.fps.toFixed(1);
  const lat = s.latency_ms_p50 === null ? "–" : `${Math.round(s.latency_ms_p50)} ms`;
  const showing = s.showing === s.style && s.label ? s.label : s.showing.replace(/^\w+:/, "");
  $("overlay").textContent = `${fps} FPS · server latency ${lat} · ${showing}`;
  showInstant(s.instant);
}

// The upload's real-time net: progress while it trains, then it joins the menu and the
// server has already switched this page to it.
function showInstant(job) {
  $("instant").textContent = job && !job.ready ? job.status : "";
  if (!job || !job.ready) return;
  const id = `style:${job.ready}`;
  if (![...$("style").options].some((o) => o.value === id)) $("style").append(new Option(job.ready, id));
  if (state.server.style === id) $("style").value = id;
}

async function settings(body) {
  try {
    state.server = await postJSON(`/api/clients/${state.id}/settings`, body);
    showError("");
  } catch (e) { showError(e.message); }
}

export function grab() {
  const v = $("video");
  const c = document.createElement("canvas");
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  c.getContext("2d").drawImage(v, 0, 0);
  return c;
}

function bindControls() {
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
  $("keep-colours").addEventListener("change", (e) => settings({ keep_colours: e.target.checked }));
  $("mirror").addEventListener("change", (e) => settings({ mirror: e.target.checked }));
  $("camera").addEventListener("change", async () => {
    try {
      const camera = await navigator.mediaDevices.getUserMedia(cameraConstraints());
      await sender.replaceTrack(camera.getVideoTracks()[0]);
      showError("");
    } catch (e) { showError(`cannot switch camera: ${e.message}`); }
  });
  $("painting").addEventListener("change", upload);
}

async function upload(e) {
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
    showInstant(r.instant);
    showError("");
  } catch (err) { showError(err.message); }
}
