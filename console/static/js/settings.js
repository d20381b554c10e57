// Station settings (admins): the settings the console may change, saved to the config file through
// /api/admin/settings (console/routes/station_settings.py). A refused save shows the server's translated
// message under each field and changes nothing; a saved one says which settings are in force now and which
// wait for a restart (detection per camera), as the server answers.

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("settings-config").textContent);
const S = config.strings;
const LABELS = config.labels;
const NUMBERS = [
  "retention_days", "closed_case_retention_days", "export_retention_days", "idle_timeout_minutes",
  "session_hours", "live_views_per_user", "complaint_due_hours", "officer_recording_days",
  "reason_required_after_days",
];

const form = document.getElementById("settings-form");
const errorBox = document.getElementById("settings-error");
const statusBox = document.getElementById("settings-status");
const pendingBox = document.getElementById("settings-pending");
const cameraList = document.getElementById("settings-cameras");

const state = { cameras: {} };

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function label(name) {
  if (name.startsWith("detection.")) {
    const camera = name.slice("detection.".length);
    return format(S.detection_of, { camera: state.cameras[camera] || camera });
  }
  return LABELS[name] || name;
}

function names(list) {
  return list.map(label).join(", ");
}

function clearErrors() {
  errorBox.textContent = "";
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll(".invalid")) {
    node.classList.remove("invalid");
    node.removeAttribute("aria-invalid");
  }
}

function showErrors(error) {
  statusBox.textContent = "";
  const fields = (error && error.body && error.body.error && error.body.error.fields) || null;
  if (!fields) {
    errorBox.textContent = error.message || String(error);
    return;
  }
  const rest = [];
  for (const [name, message] of Object.entries(fields)) {
    const slot = form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (!slot) {
      rest.push(`${label(name)}: ${message}`);
      continue;
    }
    slot.textContent = message;
    const input = slot.parentElement.querySelector("input, select");
    if (input) {
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
    }
  }
  errorBox.textContent = rest.length ? rest.join(" ") : error.message;
}

function cameraItem(id, name, enabled) {
  const item = document.createElement("li");
  const box = document.createElement("label");
  box.className = "admin-check";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.name = `detection.${id}`;
  input.checked = enabled;
  input.dataset.camera = id;
  input.dataset.testid = `settings-detection-${id}`;
  box.append(input, ` ${name} (${id})`);
  const slot = document.createElement("small");
  slot.className = "field-error";
  slot.dataset.field = `detection.${id}`;
  item.append(box, slot);
  return item;
}

function fill(answer) {
  state.cameras = answer.cameras;
  const values = answer.values;
  form.elements.station_name.value = values.station_name;
  form.elements.language.value = values.language;
  for (const name of NUMBERS) form.elements[name].value = values[name];
  const ids = Object.keys(answer.cameras);
  if (ids.length) {
    cameraList.replaceChildren(...ids.map((id) => cameraItem(id, answer.cameras[id], Boolean(values.detection[id]))));
  } else {
    const item = document.createElement("li");
    item.className = "users-empty";
    item.textContent = S.no_cameras;
    cameraList.replaceChildren(item);
  }
  pendingBox.textContent = answer.restart_pending.length ? format(S.pending, { names: names(answer.restart_pending) }) : "";
  for (const control of form.querySelectorAll("button, input, select")) control.disabled = !answer.editable;
  if (!answer.editable) statusBox.textContent = S.not_editable;
  form.dataset.loaded = String(Number(form.dataset.loaded || 0) + 1);
}

function body() {
  const out = {
    station_name: form.elements.station_name.value.trim(),
    language: form.elements.language.value,
    detection: {},
  };
  for (const name of NUMBERS) {
    const text = form.elements[name].value.trim();
    // a number the server can check; anything else goes as typed, for the server's message
    out[name] = text !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  for (const input of cameraList.querySelectorAll("input[data-camera]")) out.detection[input.dataset.camera] = input.checked;
  return out;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  let answer;
  try {
    answer = await api("/api/admin/settings", { method: "PUT", body: body() });
  } catch (error) {
    showErrors(error);
    return;
  }
  fill(answer);
  const parts = [];
  if (answer.applied.length) parts.push(format(S.applied, { names: names(answer.applied) }));
  if (answer.restart_required.length) parts.push(format(S.restart, { names: names(answer.restart_required) }));
  statusBox.textContent = parts.length ? `${S.saved} ${parts.join(" ")}` : S.unchanged;
});

api("/api/admin/settings").then(fill, showErrors);
