// Cameras (admins): list, add, edit, disable, enable or remove a camera, and test an address (and the
// sub-stream's, when one is given) before saving it. Removing asks first in a dialog that shows what stays
// (GET .../records: footage, evidence locks, open complaints); it takes the camera out of the config file
// only, and the list names removed cameras still connected until the station restarts.
//
// Everything goes through /api/admin/cameras (console/routes/camera_admin.py) with the session's CSRF token
// (api.js). Addresses come back with the password as ***: saving with *** (or an empty password field)
// keeps the stored password; typing one replaces it. A refused save shows the server's translated message
// under each field it names and changes nothing.

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("cameras-config").textContent);
const S = config.strings;

const errorBox = document.getElementById("cameras-error");
const statusBox = document.getElementById("cameras-status");
const rows = document.getElementById("cameras-rows");
const table = document.querySelector("[data-testid=cameras-table]");
const form = document.getElementById("camera-form");
const formTitle = document.getElementById("camera-form-title");
const testButton = document.getElementById("camera-test");
const cancelButton = document.getElementById("camera-cancel");
const probe = document.getElementById("camera-probe");
const probeImage = document.getElementById("camera-probe-image");
const probeText = document.getElementById("camera-probe-text");
const subProbe = document.getElementById("camera-probe-sub");
const subProbeImage = document.getElementById("camera-probe-sub-image");
const subProbeText = document.getElementById("camera-probe-sub-text");
const removedBox = document.getElementById("cameras-removed");
const removeDialog = document.getElementById("camera-remove-dialog");

const state = { cameras: [], editing: null, editable: true };
const LOCATION = ["building", "entrance", "floor", "area"];

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function element(tag, { text, className, testid } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  return node;
}

function button(text, testid, onClick, className = "btn") {
  const node = element("button", { text, className, testid });
  node.type = "button";
  node.disabled = !state.editable;
  node.addEventListener("click", onClick);
  return node;
}

function showError(error) {
  errorBox.textContent = error ? (error.message || String(error)) : "";
}

function clearFieldErrors() {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll(".invalid")) {
    node.classList.remove("invalid");
    node.removeAttribute("aria-invalid");
  }
}

// A 422 with {"fields": {"url": "..."}}: each message under its input; others in the page's error line.
function showFieldErrors(error) {
  const fields = (error && error.body && error.body.error && error.body.error.fields) || null;
  if (!fields) return false;
  const rest = [];
  for (const [name, message] of Object.entries(fields)) {
    const slot = form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (!slot) {
      rest.push(message);
      continue;
    }
    slot.textContent = message;
    const input = slot.parentElement.querySelector("input, select");
    if (input) {
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
    }
  }
  errorBox.textContent = rest.length ? rest.join(" ") : (error.message || "");
  return true;
}

async function attempt(action) {
  try {
    return { ok: true, value: await action() };
  } catch (error) {
    statusBox.textContent = "";
    if (!showFieldErrors(error)) showError(error);
    return { ok: false };
  }
}

// ---- the list --------------------------------------------------------------------------------------------

function locationText(location) {
  return LOCATION.map((key) => location[key]).filter(Boolean).join(" / ") || "—";
}

function cameraRow(camera) {
  const row = element("tr", { testid: `camera-row-${camera.id}` });
  row.classList.toggle("is-disabled", !camera.enabled);
  const badges = element("div", { className: "admin-badges" });
  badges.append(element("span", {
    text: camera.enabled ? S.enabled : S.disabled,
    className: `badge ${camera.enabled ? "badge-online" : "badge-disabled"}`,
    testid: "camera-state",
  }));
  badges.append(element("span", {
    text: camera.detection_enabled ? S.detection_on : S.detection_off,
    className: "badge badge-unknown",
  }));
  if (camera.restart_pending) {
    badges.append(element("span", { text: S.restart_pending, className: "badge badge-pending", testid: "camera-pending" }));
  }
  const stateCell = element("td");
  stateCell.append(badges);
  const actions = element("div", { className: "users-actions" });
  actions.append(
    button(S.edit, "camera-edit", () => edit(camera.id), "btn btn-ghost"),
    button(camera.enabled ? S.disable : S.enable, "camera-toggle", () => toggle(camera)),
    button(S.remove, "camera-remove", () => remove(camera), "btn btn-ghost"),
  );
  const actionCell = element("td");
  actionCell.append(actions);
  const urlCell = element("td", { text: camera.url, className: "admin-url", testid: "camera-row-url" });
  row.append(
    element("td", { text: camera.id }),
    element("td", { text: camera.name }),
    urlCell,
    element("td", { text: locationText(camera.location) }),
    stateCell,
    actionCell,
  );
  return row;
}

function render() {
  if (state.cameras.length) {
    rows.replaceChildren(...state.cameras.map(cameraRow));
  } else {
    const cell = element("td", { text: S.none, className: "users-empty" });
    cell.colSpan = 6;
    const row = element("tr");
    row.append(cell);
    rows.replaceChildren(row);
  }
  table.dataset.loaded = String(Number(table.dataset.loaded || 0) + 1);
}

async function load() {
  const answer = await api("/api/admin/cameras");
  state.cameras = answer.cameras;
  state.editable = answer.editable;
  const removed = answer.removed_running || [];
  removedBox.hidden = removed.length === 0;
  removedBox.textContent = removed.length
    ? format(S.removed_running, { cameras: removed.map((c) => `${c.name} (${c.id})`).join(", ") }) : "";
  if (!state.editable) statusBox.textContent = S.not_editable;
  for (const control of form.querySelectorAll("button, input, select")) control.disabled = !state.editable;
  render();
}

// ---- the form --------------------------------------------------------------------------------------------

function resetForm() {
  state.editing = null;
  form.reset();
  form.elements.id.readOnly = false;
  formTitle.textContent = S.new_title;
  cancelButton.hidden = true;
  probe.hidden = true;
  subProbe.hidden = true;
  clearFieldErrors();
}

function edit(cameraId) {
  const camera = state.cameras.find((candidate) => candidate.id === cameraId);
  if (!camera) return;
  resetForm();
  state.editing = camera.id;
  formTitle.textContent = format(S.edit_title, { id: camera.id });
  cancelButton.hidden = false;
  const fields = form.elements;
  fields.id.value = camera.id;
  fields.id.readOnly = true;
  fields.name.value = camera.name;
  fields.url.value = camera.url;
  fields.sub_url.value = camera.sub_url || "";
  fields.transport.value = camera.transport;
  fields.enabled.checked = camera.enabled;
  fields.detection_enabled.checked = camera.detection_enabled;
  for (const key of LOCATION) fields[key].value = camera.location[key] || "";
  fields.name.focus();
}

function formBody() {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) || "").trim();
  const body = {
    name: text("name"),
    url: text("url"),
    sub_url: text("sub_url"),
    transport: text("transport"),
    enabled: form.elements.enabled.checked,
    detection_enabled: form.elements.detection_enabled.checked,
    location: Object.fromEntries(LOCATION.map((key) => [key, text(key) || null])),
  };
  const password = String(data.get("password") || "");
  if (password) body.password = password;
  if (!state.editing) body.id = text("id");
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  const body = formBody();
  const editing = state.editing;
  const request = editing
    ? () => api(`/api/admin/cameras/${encodeURIComponent(editing)}`, { method: "PATCH", body })
    : () => api("/api/admin/cameras", { method: "POST", body });
  const result = await attempt(request);
  if (!result.ok) return;
  showError(null);
  const id = result.value.camera.id;
  let message = format(editing ? S.changed : S.created, { id });
  if (editing && !result.value.restart_required) message = S.unchanged;
  resetForm();
  await attempt(load);
  statusBox.textContent = message;
});

async function toggle(camera) {
  clearFieldErrors();
  const body = { enabled: !camera.enabled };
  const path = `/api/admin/cameras/${encodeURIComponent(camera.id)}`;
  const result = await attempt(() => api(path, { method: "PATCH", body }));
  if (!result.ok) return;
  showError(null);
  await attempt(load);
  statusBox.textContent = format(camera.enabled ? S.disabled_done : S.enabled_done, { id: camera.id });
}

// Asks first (the dialog shows what stays of the camera), then takes it out of the config file.
async function remove(camera) {
  clearFieldErrors();
  showError(null);
  const path = `/api/admin/cameras/${encodeURIComponent(camera.id)}`;
  const records = await attempt(() => api(`${path}/records`));
  if (!records.ok) return;
  document.getElementById("camera-remove-title").textContent = format(S.remove_title, { id: camera.id });
  for (const node of removeDialog.querySelectorAll("[data-records]")) {
    node.textContent = String(records.value[node.dataset.records]);
  }
  removeDialog.returnValue = "";
  const answer = new Promise((resolve) => {
    removeDialog.addEventListener("close", () => resolve(removeDialog.returnValue), { once: true });
  });
  removeDialog.showModal();
  if ((await answer) !== "remove") return;
  const result = await attempt(() => api(path, { method: "DELETE" }));
  if (!result.ok) return;
  if (state.editing === camera.id) resetForm();
  await attempt(load);
  statusBox.textContent = format(S.removed_done, { id: camera.id });
}

function showProbe(box, image, text, answer, label) {
  box.hidden = false;
  box.className = `admin-probe ${answer.ok ? "probe-ok" : "probe-failed"}`;
  box.dataset.ok = String(answer.ok);
  text.textContent = label ? format(label, { message: answer.message }) : answer.message;
  if (answer.snapshot) {
    image.src = answer.snapshot;
    image.hidden = false;
  }
}

testButton.addEventListener("click", async () => {
  clearFieldErrors();
  showError(null);
  const body = formBody();
  const request = { url: body.url, transport: body.transport };
  if (body.sub_url) request.sub_url = body.sub_url;
  if (body.password) request.password = body.password;
  if (state.editing) request.camera_id = state.editing;
  probe.hidden = false;
  probe.className = "admin-probe";
  probeImage.hidden = true;
  subProbe.hidden = true;
  subProbeImage.hidden = true;
  probeText.textContent = S.testing;
  testButton.disabled = true;
  const result = await attempt(() => api("/api/admin/cameras/test", { method: "POST", body: request }));
  testButton.disabled = !state.editable;
  if (!result.ok) {
    probe.hidden = true;
    return;
  }
  const answer = result.value;
  const sub = answer.sub_stream;
  showProbe(probe, probeImage, probeText, answer, sub ? S.main_stream : null);
  if (sub) showProbe(subProbe, subProbeImage, subProbeText, sub, S.sub_stream);
});

cancelButton.addEventListener("click", resetForm);

attempt(load);
