// The zone and mask editor (admins): polygons drawn on the camera's current picture.
//
// GET /api/cameras/{id}/detection gives the camera's zones and masks; the picture comes from
// .../detection/snapshot.jpg (tried again every few seconds while the camera has none yet). A canvas of the
// picture's size lies over it: clicks add points, "Close the polygon" (or a click on the first point) ends
// one with at least three; a corner can be dragged. Points are kept as fractions of the picture (0..1), as
// the config stores them. Save puts everything back (PUT): the server validates it, writes the config file
// (the previous one kept as .bak) and applies it; its (translated) refusal is shown as it comes.

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("zones-config").textContent);
const S = config.strings;
const SLUG = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const HIT_PX = 9;
const PICTURE_RETRY_MS = 2000;

const cameraSelect = document.getElementById("zones-camera-select");
const image = document.getElementById("zones-snapshot");
const canvas = document.getElementById("zones-canvas");
const noPicture = document.getElementById("zones-no-picture");
const errorBox = document.getElementById("zones-error");
const statusBox = document.getElementById("zones-status");
const zoneList = document.getElementById("zones-list");
const maskList = document.getElementById("masks-list");
const formPanel = document.getElementById("zone-form-panel");
const form = document.getElementById("zone-form");
const buttons = {
  zone: document.getElementById("zones-new-zone"),
  mask: document.getElementById("zones-new-mask"),
  close: document.getElementById("zones-close"),
  cancel: document.getElementById("zones-cancel"),
  save: document.getElementById("zones-save"),
  reload: document.getElementById("zones-reload"),
};

const state = {
  camera: null,
  zones: [], // as the API gives them (unknown fields such as params are kept and sent back)
  masks: [],
  selected: -1, // index of the zone the form edits
  drawing: null, // {type: "zone" | "mask", points: [[x, y], ...]}
  drag: null, // {list, index, vertex}
  retry: null,
};

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function showError(error) {
  errorBox.textContent = error ? (error.message || String(error)) : "";
}

function showStatus(text) {
  statusBox.textContent = text || "";
}

// ---- the picture -----------------------------------------------------------------------------------

function pictureUrl() {
  return `/api/cameras/${encodeURIComponent(state.camera)}/detection/snapshot.jpg?t=${Date.now()}`;
}

function loadPicture() {
  clearTimeout(state.retry);
  image.src = pictureUrl();
}

image.addEventListener("load", () => {
  noPicture.hidden = true;
  image.dataset.loaded = "true";
  resizeCanvas();
});

image.addEventListener("error", () => {
  noPicture.textContent = S.no_picture;
  noPicture.hidden = false;
  state.retry = setTimeout(loadPicture, PICTURE_RETRY_MS);
});

function resizeCanvas() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  draw();
}

window.addEventListener("resize", resizeCanvas);

// ---- drawing ---------------------------------------------------------------------------------------

function toCanvas([x, y]) {
  return [x * canvas.width, y * canvas.height];
}

function tracePolygon(ctx, points, closed) {
  ctx.beginPath();
  points.forEach((point, i) => {
    const [x, y] = toCanvas(point);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  if (closed) ctx.closePath();
}

function drawPolygon(ctx, points, { stroke, fill, closed = true, width = 2, label = "" }) {
  const ratio = window.devicePixelRatio || 1;
  tracePolygon(ctx, points, closed);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill();
  }
  ctx.strokeStyle = stroke;
  ctx.lineWidth = width * ratio;
  ctx.stroke();
  ctx.fillStyle = stroke;
  for (const point of points) {
    const [x, y] = toCanvas(point);
    ctx.fillRect(x - 3 * ratio, y - 3 * ratio, 6 * ratio, 6 * ratio);
  }
  if (label && points.length) {
    const [x, y] = toCanvas(points[0]);
    ctx.font = `${13 * ratio}px sans-serif`;
    ctx.fillText(label, x + 6 * ratio, y < 20 * ratio ? y + 18 * ratio : y - 6 * ratio);
  }
}

function draw() {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  state.masks.forEach((mask, i) => {
    drawPolygon(ctx, mask.points, {
      stroke: "#f85149", fill: "rgba(248, 81, 73, .25)", label: format(S.mask, { number: i + 1 }),
    });
  });
  state.zones.forEach((zone, i) => {
    const selected = i === state.selected;
    drawPolygon(ctx, zone.points, {
      stroke: selected ? "#58a6ff" : "#3fb950",
      fill: selected ? "rgba(88, 166, 255, .2)" : "rgba(63, 185, 80, .15)",
      width: selected ? 3 : 2,
      label: zone.name,
    });
  });
  if (state.drawing) {
    drawPolygon(ctx, state.drawing.points, { stroke: "#d29922", closed: false, width: 2 });
  }
}

function pointAt(event) {
  const box = canvas.getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const round = (v) => Math.round(v * 10000) / 10000;
  return [round(clamp((event.clientX - box.left) / box.width)), round(clamp((event.clientY - box.top) / box.height))];
}

function nearPoint(a, b) {
  const box = canvas.getBoundingClientRect();
  return Math.hypot((a[0] - b[0]) * box.width, (a[1] - b[1]) * box.height) <= HIT_PX;
}

function vertexAt(point) {
  for (const [list, items] of [["zones", state.zones], ["masks", state.masks]]) {
    for (let index = items.length - 1; index >= 0; index -= 1) {
      const vertex = items[index].points.findIndex((p) => nearPoint(p, point));
      if (vertex >= 0) return { list, index, vertex };
    }
  }
  return null;
}

function startDrawing(type) {
  state.drawing = { type, points: [] };
  showStatus(S.drawing);
  updateTools();
  draw();
}

function stopDrawing() {
  state.drawing = null;
  showStatus("");
  updateTools();
  draw();
}

function freeZoneName() {
  const names = new Set(state.zones.map((z) => z.name));
  let n = state.zones.length + 1;
  while (names.has(`zone-${n}`)) n += 1;
  return `zone-${n}`;
}

function closePolygon() {
  const drawing = state.drawing;
  if (!drawing || drawing.points.length < 3) return;
  if (drawing.type === "zone") {
    state.zones.push({ name: freeZoneName(), points: drawing.points });
  } else {
    state.masks.push({ points: drawing.points });
  }
  stopDrawing();
  changed();
  if (drawing.type === "zone") selectZone(state.zones.length - 1);
}

canvas.addEventListener("pointerdown", (event) => {
  const point = pointAt(event);
  if (state.drawing) {
    const points = state.drawing.points;
    if (points.length >= 3 && nearPoint(points[0], point)) closePolygon();
    else points.push(point);
    updateTools();
    draw();
    return;
  }
  const hit = vertexAt(point);
  if (hit) {
    state.drag = hit;
    canvas.setPointerCapture(event.pointerId);
    if (hit.list === "zones") selectZone(hit.index);
  }
});

canvas.addEventListener("pointermove", (event) => {
  if (!state.drag) return;
  const { list, index, vertex } = state.drag;
  state[list][index].points[vertex] = pointAt(event);
  draw();
});

canvas.addEventListener("pointerup", () => {
  if (state.drag) {
    state.drag = null;
    changed();
  }
});

// ---- lists and the zone's form ------------------------------------------------------------------------

function listItem(label, detail, onSelect, onDelete, selected) {
  const item = document.createElement("li");
  item.className = selected ? "selected" : "";
  const name = document.createElement("button");
  name.type = "button";
  name.className = "zones-item-name";
  name.textContent = label;
  name.addEventListener("click", onSelect);
  const small = document.createElement("small");
  small.textContent = detail;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "btn btn-ghost";
  remove.textContent = S.delete;
  remove.dataset.testid = "zones-delete";
  remove.addEventListener("click", onDelete);
  item.append(name, small, remove);
  return item;
}

function renderLists() {
  const empty = () => {
    const li = document.createElement("li");
    li.className = "zones-empty";
    li.textContent = S.none;
    return li;
  };
  zoneList.replaceChildren(...state.zones.map((zone, i) => listItem(
    zone.name, format(S.points, { count: zone.points.length }), () => selectZone(i),
    () => { state.zones.splice(i, 1); state.selected = -1; changed(); }, i === state.selected,
  )));
  if (!state.zones.length) zoneList.append(empty());
  maskList.replaceChildren(...state.masks.map((mask, i) => listItem(
    format(S.mask, { number: i + 1 }), format(S.points, { count: mask.points.length }), () => {},
    () => { state.masks.splice(i, 1); changed(); }, false,
  )));
  if (!state.masks.length) maskList.append(empty());
}

function selectZone(index) {
  state.selected = index;
  const zone = state.zones[index];
  formPanel.hidden = !zone;
  if (zone) {
    form.elements.name.value = zone.name;
    for (const box of form.querySelectorAll("input[name=kinds]")) box.checked = (zone.kinds || []).includes(box.value);
    form.elements.schedule.value = (zone.schedule || []).join(", ");
    form.elements.min_dwell_s.value = zone.min_dwell_s ?? "";
    form.elements.min_height_px.value = zone.min_height_px ?? "";
  }
  renderLists();
  draw();
}

function numberOrNull(value) {
  return value === "" ? null : Number(value);
}

form.addEventListener("input", () => {
  const zone = state.zones[state.selected];
  if (!zone) return;
  zone.name = form.elements.name.value.trim();
  const kinds = [...form.querySelectorAll("input[name=kinds]:checked")].map((box) => box.value);
  zone.kinds = kinds.length ? kinds : null;
  zone.schedule = form.elements.schedule.value.split(",").map((s) => s.trim()).filter(Boolean);
  zone.min_dwell_s = numberOrNull(form.elements.min_dwell_s.value);
  zone.min_height_px = numberOrNull(form.elements.min_height_px.value);
  changed();
});

function updateTools() {
  const drawing = Boolean(state.drawing);
  buttons.zone.disabled = drawing;
  buttons.mask.disabled = drawing;
  buttons.close.disabled = !drawing || state.drawing.points.length < 3;
  buttons.cancel.disabled = !drawing;
  canvas.classList.toggle("drawing", drawing);
}

function changed() {
  showStatus(S.unsaved);
  showError(null);
  renderLists();
  draw();
}

// ---- load and save ---------------------------------------------------------------------------------

async function loadCamera(cameraId) {
  state.camera = cameraId;
  state.selected = -1;
  state.drawing = null;
  formPanel.hidden = true;
  showError(null);
  showStatus(S.loading);
  delete image.dataset.loaded;
  loadPicture();
  try {
    const areas = await api(`/api/cameras/${encodeURIComponent(cameraId)}/detection`);
    state.zones = areas.zones;
    state.masks = areas.masks;
    showStatus("");
  } catch (error) {
    state.zones = [];
    state.masks = [];
    showStatus("");
    showError(error);
  }
  updateTools();
  renderLists();
  draw();
}

function zoneBody(zone) {
  const body = { ...zone };
  for (const key of ["kinds", "min_dwell_s", "min_height_px"]) {
    if (body[key] === null || body[key] === undefined) delete body[key];
  }
  return body;
}

async function save() {
  showError(null);
  const bad = state.zones.find((zone) => !SLUG.test(zone.name));
  if (bad) {
    selectZone(state.zones.indexOf(bad));
    form.elements.name.reportValidity();
    return;
  }
  buttons.save.disabled = true;
  try {
    const saved = await api(`/api/cameras/${encodeURIComponent(state.camera)}/detection`, {
      method: "PUT",
      body: { zones: state.zones.map(zoneBody), masks: state.masks },
    });
    state.zones = saved.zones;
    state.masks = saved.masks;
    const parts = [saved.applied ? S.saved_applied : S.saved_restart];
    if (saved.backup) parts.push(format(S.backup, { backup: saved.backup.split("/").pop() }));
    selectZone(Math.min(state.selected, state.zones.length - 1));
    showStatus(parts.join(" "));
  } catch (error) {
    showStatus("");
    showError(error);
  } finally {
    buttons.save.disabled = !config.editable;
  }
}

buttons.zone.addEventListener("click", () => startDrawing("zone"));
buttons.mask.addEventListener("click", () => startDrawing("mask"));
buttons.close.addEventListener("click", closePolygon);
buttons.cancel.addEventListener("click", stopDrawing);
buttons.save.addEventListener("click", save);
buttons.reload.addEventListener("click", loadPicture);
cameraSelect.addEventListener("change", () => loadCamera(cameraSelect.value));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.drawing) stopDrawing();
  if (event.key === "Enter" && state.drawing && event.target === document.body) closePolygon();
});

// For tests and the curious: what the editor holds now.
window.stationZones = {
  describe: () => ({
    camera: state.camera,
    zones: state.zones.map(zoneBody),
    masks: state.masks,
    drawing: state.drawing && state.drawing.points.length,
    picture: image.dataset.loaded === "true",
  }),
};

if (cameraSelect.value) loadCamera(cameraSelect.value);
