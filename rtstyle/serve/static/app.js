// rtstyle live: the shared page. The styling runs on the server (server.js, WebRTC) or,
// with ?on=device, in this browser (device.js, ONNX Runtime Web).
"use strict";

const params = new URLSearchParams(location.search);
export const token = params.get("token");
export const onDevice = params.get("on") === "device";
export const $ = (id) => document.getElementById(id);
export const state = { mode: onDevice ? "device" : "server", id: null, pc: null, server: null,
                       fps: null, stylised: true, mirror: false, error: null };

/** A URL with the token added, for requests that cannot send a header (imports, images). */
export function withToken(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers["X-Rtstyle-Token"] = token;
  const r = await fetch(path, { ...options, headers });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

export function showError(text) {
  state.error = text;
  $("message").textContent = text;
  $("message").hidden = !text;
}

export function cameraConstraints() {
  return { audio: false, video: { facingMode: $("camera").value, width: { ideal: 640 },
                                  height: { ideal: 480 } } };
}

const GROUPS = { "built-in": "Built-in styles", user: "My styles",
                 painting: "My paintings (style-swap)" };

/** The menu as a <select> and as a gallery of thumbnails; `usable(item)` greys out the rest. */
export function fillMenu(items, chosen, usable = () => true) {
  const select = $("style");
  const gallery = $("gallery");
  for (const [kind, label] of Object.entries(GROUPS)) {
    const group = items.filter((s) => s.kind === kind);
    if (!group.length) continue;
    const optgroup = document.createElement("optgroup");
    optgroup.label = label;
    const heading = document.createElement("h2");
    heading.textContent = label;
    const grid = document.createElement("div");
    grid.className = "tiles";
    for (const s of group) {
      const ok = usable(s);
      const option = new Option(s.name, s.id, false, s.id === chosen);
      option.disabled = !ok;
      optgroup.append(option);
      const tile = document.createElement("button");
      tile.type = "button";
      tile.className = "tile";
      tile.dataset.id = s.id;
      tile.disabled = !ok;
      tile.title = ok ? s.name : `${s.name}: too slow for this device; runs on the server`;
      const img = new Image();
      img.loading = "lazy";
      img.alt = s.name;
      img.src = withToken(`/api/thumbnails/${encodeURIComponent(s.id)}.png`);
      const name = document.createElement("span");
      name.textContent = s.name;
      tile.append(img, name);
      tile.addEventListener("click", () => {
        select.value = s.id;
        select.dispatchEvent(new Event("change"));
      });
      grid.append(tile);
    }
    select.append(optgroup);
    gallery.append(heading, grid);
  }
  markChosen();
}

export function markChosen() {
  for (const tile of document.querySelectorAll(".tile")) {
    tile.classList.toggle("chosen", tile.dataset.id === $("style").value);
  }
}

function download(canvas) {
  canvas.toBlob((blob) => {
    const a = $("download");
    a.href = URL.createObjectURL(blob);
    a.hidden = false;
    a.click();
  }, "image/png");
}

async function main() {
  $(onDevice ? "mode-device" : "mode-server").classList.add("current");
  for (const a of document.querySelectorAll("#modes a")) a.href = withToken(a.getAttribute("href"));
  document.body.classList.add(`mode-${state.mode}`);
  const mode = await import(onDevice ? "/static/device.js" : "/static/server.js");
  $("style").addEventListener("change", markChosen);
  $("snapshot").addEventListener("click", () => download(mode.grab()));
  // For tests and the snapshot button: the shown frame as a PNG data URL, and the state.
  window.rtstyle = { state, grab: () => mode.grab().toDataURL("image/png") };
  await mode.start();
}

main().catch((e) => { showError(e.message); $("overlay").textContent = "not running"; });
