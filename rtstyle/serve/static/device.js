// On-device mode: this browser stylises its own camera with ONNX Runtime Web. The server
// only hands out files (the runtime, the lite styles' graphs): no WebRTC, no POST.
"use strict";

import { $, api, cameraConstraints, fillMenu, showError, state, withToken } from "/static/app.js";

let ort = null;
let session = null;
let loading = null;
let sessionSize = "";  // "WxH" the session's shapes are fixed to
const input = document.createElement("canvas");
const inputCtx = input.getContext("2d", { willReadFrequently: true });
const times = [];

async function backend() {
  // WebGPU where the browser gives an adapter; WASM (SIMD, threads if isolated) otherwise.
  if (navigator.gpu) {
    const adapter = await navigator.gpu.requestAdapter().catch(() => null);
    if (adapter) return "webgpu";
  }
  return "wasm";
}

async function loadRuntime(info, kind) {
  const [loader, mjs, wasm] = info.builds[kind];
  ort = await import(withToken(`/device/ort/${loader}`));
  ort.env.wasm.wasmPaths = { mjs: new URL(withToken(`/device/ort/${mjs}`), location.href).href,
                             wasm: new URL(withToken(`/device/ort/${wasm}`), location.href).href };
  // Threads need SharedArrayBuffer, which needs the COOP/COEP headers the server sends.
  ort.env.wasm.numThreads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  state.threads = ort.env.wasm.numThreads;
}

async function loadStyle(name) {
  const precision = new URLSearchParams(location.search).get("precision") || state.precision;
  const r = await fetch(withToken(`/device/models/${encodeURIComponent(name)}.onnx?precision=${precision}`));
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
  const model = new Uint8Array(await r.arrayBuffer());
  // Fixing the graph's free dims to the camera's size lets ONNX Runtime plan every
  // tensor's memory once (a new camera size loads the session again, in step()).
  const { videoWidth: w, videoHeight: h } = $("video");
  const fixed = w ? { freeDimensionOverrides: { batch: 1, height: h, width: w } } : {};
  const next = await ort.InferenceSession.create(model, {
    executionProviders: [state.backend], graphOptimizationLevel: "all", ...fixed });
  if (session) session.release();
  session = next;
  sessionSize = w ? `${w}x${h}` : "";
  state.showing = `style:${name}`;
  state.precision_used = precision;
  times.length = 0;
}

async function step() {
  const video = $("video");
  const w = video.videoWidth, h = video.videoHeight;
  if (!session || !w || video.readyState < 2) return;
  if (sessionSize !== `${w}x${h}`) {  // another camera: shapes fixed to the new size
    reload();
    return;
  }
  if (input.width !== w || input.height !== h) {
    input.width = $("output").width = w;
    input.height = $("output").height = h;
  }
  inputCtx.setTransform(state.mirror ? -1 : 1, 0, 0, 1, state.mirror ? w : 0, 0);
  inputCtx.drawImage(video, 0, 0, w, h);
  const frame = inputCtx.getImageData(0, 0, w, h);
  const out = $("output").getContext("2d");
  if (!state.stylised) { out.putImageData(frame, 0, 0); return; }
  const t0 = performance.now();
  const tensor = new ort.Tensor("uint8", new Uint8Array(frame.data.buffer), [1, h, w, 4]);
  const result = await session.run({ rgba: tensor });
  const px = result.rgba_styled.data;
  out.putImageData(new ImageData(new Uint8ClampedArray(px.buffer, px.byteOffset, px.length), w, h), 0, 0);
  result.rgba_styled.dispose?.();
  times.push([performance.now(), performance.now() - t0]);
  state.frames = (state.frames || 0) + 1;
}

async function loop() {
  try {
    if (!loading) await step();
  } catch (e) { showError(e.message); }
  const now = performance.now();
  while (times.length && times[0][0] < now - 2000) times.shift();
  if (times.length > 1) {
    state.fps = (times.length - 1) * 1000 / (times.at(-1)[0] - times[0][0]);
    state.ms = times.reduce((a, t) => a + t[1], 0) / times.length;
  }
  const fps = state.fps ? state.fps.toFixed(1) : "–";
  const ms = state.ms ? `${Math.round(state.ms)} ms` : "–";
  const threads = state.backend === "wasm" ? ` × ${state.threads} thread${state.threads > 1 ? "s" : ""}` : "";
  $("overlay").textContent = `on this device: ${state.backend.toUpperCase()}${threads} · ${fps} FPS · ${ms} · ${(state.showing || "loading").replace(/^\w+:/, "")}`;
  // Slower than the camera: start the next frame at once rather than wait for the next
  // animation frame (up to 16 ms idle per frame); otherwise keep to the display's pace.
  if (state.stylised && state.ms > 30) setTimeout(loop, 0);
  else requestAnimationFrame(loop);
}

function reload(name = $("style").value.replace(/^style:/, "")) {
  loading = loadStyle(name).then(() => showError(""), (err) => showError(err.message))
    .finally(() => { loading = null; });
  return loading;
}

export function grab() {
  const c = document.createElement("canvas");
  c.width = $("output").width;
  c.height = $("output").height;
  c.getContext("2d").drawImage($("output"), 0, 0);
  return c;
}

async function openCamera() {
  const video = $("video");
  video.srcObject?.getTracks().forEach((t) => t.stop());
  video.srcObject = await navigator.mediaDevices.getUserMedia(cameraConstraints());
  // Its size is known once the metadata is in (the session is built for that size).
  if (video.readyState < 1) await new Promise((ok) => video.addEventListener("loadedmetadata", ok, { once: true }));
}

export async function start() {
  $("output").hidden = false;  // the <video> stays rendered (see style.css) but unseen
  const [info, menu] = await Promise.all([api("/api/device"), api("/api/styles")]);
  if (!info.runtime) {
    throw new Error("this server has no browser runtime; run `rtstyle serve --fetch-web-runtime` " +
                    "on it, or use the server mode");
  }
  const lite = new Set(info.styles.map((s) => `style:${s.name}`));
  const chosen = lite.has(menu.default) ? menu.default : [...lite][0];
  fillMenu(menu.styles.filter((s) => s.kind !== "painting"), chosen, (s) => lite.has(s.id));
  state.backend = await backend();
  state.precision = info.precision;
  $("status").textContent = `loading ONNX Runtime Web ${info.runtime} (${state.backend})…`;
  await loadRuntime(info, state.backend);
  await openCamera();
  await loadStyle(chosen.replace(/^style:/, ""));
  $("status").textContent = `on this device · ONNX Runtime Web ${info.runtime} · ${state.backend === "webgpu" ? "WebGPU" : "WASM"}`;
  $("style").addEventListener("change", (e) => reload(e.target.value.replace(/^style:/, "")));
  $("toggle").addEventListener("click", () => {
    state.stylised = !state.stylised;
    $("toggle").textContent = state.stylised ? "Show original" : "Show stylised";
  });
  $("mirror").addEventListener("change", (e) => { state.mirror = e.target.checked; });
  $("camera").addEventListener("change", () => openCamera().catch((e) => showError(e.message)));
  requestAnimationFrame(loop);
}
