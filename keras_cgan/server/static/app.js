// The keras_cgan page: every picture is one POST to the JSON API, shown as a PNG.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  mode: "draw",
  names: [],          // class names, index = class id
  classes: [],        // selected class ids, in order (repeats allowed)
  seed: 2026,
  count: { draw: 1, morph: 1, walk: 10, grid: 8 },
  morphFrom: 0, morphTo: 1, t: 0,
};
let requestId = 0;    // the newest request wins; older answers are dropped
let pictureUrl = null;

const countLabels = { draw: "Per class", morph: "Rows", walk: "Steps", grid: "Columns" };

function singleChars() { return state.names.every((n) => n.length === 1); }

function parseText(text) {
  // Digit-like names: "2026" -> 2, 0, 2, 6. Longer names: comma or space separated.
  const lower = state.names.map((n) => n.toLowerCase());
  const parts = singleChars() ? Array.from(text.replace(/[\s,]/g, "")) : text.split(/[\s,]+/);
  const ids = [];
  for (const part of parts) {
    const i = lower.indexOf(part.toLowerCase());
    if (i >= 0) ids.push(i);
  }
  return ids;
}

function classText(ids) {
  return ids.map((i) => state.names[i]).join(singleChars() ? "" : ", ");
}

function syncButtons() {
  for (const b of $("class-buttons").children) {
    b.classList.toggle("on", state.classes.includes(Number(b.dataset.id)));
  }
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

function request() {
  const seed = state.seed;
  const n = state.count[state.mode];
  const rows = state.classes.length ? state.classes : state.names.map((_, i) => i);
  switch (state.mode) {
    case "morph":
      return ["/v1/interpolate", { from: state.morphFrom, to: state.morphTo, t: [state.t], rows: n, seed }];
    case "walk":
      return ["/v1/walk", { classes: rows, steps: Math.max(2, n), seed }];
    case "grid":
      return ["/v1/generate", { classes: rows, per_class: n, seed, shared_noise: true }];
    default:
      return ["/v1/generate", { classes: rows, per_class: n, seed, layout: "columns" }];
  }
}

async function draw() {
  const id = ++requestId;
  const [url, body] = request();
  const started = performance.now();
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ format: "png", scale: 4 }, body)),
    });
  } catch (e) {
    if (id === requestId) setStatus("the server did not answer: is it still running?", true);
    return;
  }
  if (id !== requestId) return;
  if (!response.ok) {
    const detail = await response.json().catch(() => ({ error: response.statusText }));
    setStatus(detail.error || "request failed", true);
    return;
  }
  const blob = await response.blob();
  if (id !== requestId) return;
  if (pictureUrl) URL.revokeObjectURL(pictureUrl);
  pictureUrl = URL.createObjectURL(blob);
  $("picture").src = pictureUrl;
  $("picture").dataset.request = String(id);
  $("download").href = pictureUrl;
  $("download").download = `keras_cgan_${state.mode}_seed${state.seed}.png`;
  const ms = Math.round(performance.now() - started);
  const shape = `${response.headers.get("X-Rows")}×${response.headers.get("X-Cols")}`;
  setStatus(`${shape} images, seed ${response.headers.get("X-Seed")}, ${ms} ms`);
}

function setMode(mode) {
  state.mode = mode;
  for (const b of $("modes").children) b.setAttribute("aria-selected", String(b.dataset.mode === mode));
  $("morph-panel").hidden = mode !== "morph";
  $("class-panel").hidden = mode === "morph";
  $("count-label").firstChild.textContent = countLabels[mode] + " ";
  $("count").value = state.count[mode];
  draw();
}

function describeModel(info) {
  const cfg = info.training_config || {};
  const parts = [];
  if (cfg.arch) parts.push(`arch ${cfg.arch}`);
  if (cfg.epochs !== undefined) parts.push(`${cfg.epochs} epochs`);
  parts.push(`latent size ${info.latent_dim}`);
  parts.push(`${info.num_classes} classes`);
  if (cfg.ema_decay) parts.push(`EMA ${cfg.ema_decay}`);
  if (!info.training_config) parts.push("training config unknown");
  $("model-info").textContent = `${parts.join(" · ")} — ${info.source}`;
  $("model-info").title = JSON.stringify(info.training_config || {}, null, 1);
}

function buildClassControls() {
  const box = $("class-buttons");
  state.names.forEach((name, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.dataset.id = String(i);
    b.setAttribute("aria-label", `class ${name}`);
    b.addEventListener("click", () => {
      const at = state.classes.indexOf(i);
      if (at >= 0) state.classes.splice(at, 1); else state.classes.push(i);
      $("class-text").value = classText(state.classes);
      syncButtons();
      draw();
    });
    box.appendChild(b);
    for (const select of [$("morph-from"), $("morph-to")]) {
      select.add(new Option(name, String(i)));
    }
  });
  $("morph-to").value = String(state.morphTo);
  if (!singleChars()) {
    $("class-text").placeholder = "class names, comma separated";
  } else {
    $("class-text").placeholder = `e.g. ${state.names.slice(0, 4).join("")}`;
  }
}

function bind() {
  for (const b of $("modes").children) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("class-text").addEventListener("input", () => {
    state.classes = parseText($("class-text").value);
    syncButtons();
    draw();
  });
  $("seed").addEventListener("change", () => {
    const v = Number($("seed").value);
    if (Number.isInteger(v) && v >= 0 && v <= 4294967295) { state.seed = v; draw(); }
    else setStatus("the seed must be a whole number from 0 to 4294967295", true);
  });
  $("new-noise").addEventListener("click", () => {
    state.seed = Math.floor(Math.random() * 4294967296);
    $("seed").value = state.seed;
    draw();
  });
  $("count").addEventListener("change", () => {
    const v = Number($("count").value);
    if (Number.isInteger(v) && v >= 1) { state.count[state.mode] = v; draw(); }
  });
  $("morph-t").addEventListener("input", () => {
    state.t = Number($("morph-t").value);
    $("morph-t-value").textContent = state.t.toFixed(2);
    draw();
  });
  $("morph-from").addEventListener("change", () => { state.morphFrom = Number($("morph-from").value); draw(); });
  $("morph-to").addEventListener("change", () => { state.morphTo = Number($("morph-to").value); draw(); });
}

async function start() {
  bind();
  try {
    const info = await (await fetch("/v1/model")).json();
    state.names = info.class_names;
    state.morphTo = Math.min(1, info.num_classes - 1);
    describeModel(info);
  } catch (e) {
    setStatus("cannot read /v1/model: is the server running?", true);
    return;
  }
  buildClassControls();
  state.seed = Number($("seed").value);
  setMode("draw");
}

start();
