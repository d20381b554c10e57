// One complaint: details, workflow buttons, notes, history, proposed cameras with footage, attach/detach,
// preview of footage (through an audited playback view, with the complaint number as the reason).
import { api } from "/static/js/api.js";
import { SegmentPlayer } from "/static/js/segmentplayer.js";
import { formatStation, labels } from "/static/js/stationtime.js";
import { renderTimeline } from "/static/js/timelinebar.js";

const root = document.getElementById("complaint");
const id = root.dataset.id;
const zone = root.dataset.timezone;
const lang = root.dataset.lang;
const canEdit = root.dataset.canEdit === "true";
const L = labels();
const fmt = (value) => formatStation(value, zone, lang);
let current = null;
let options = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function showError(error) {
  document.getElementById("complaint-error").textContent = error ? error.message : "";
}

function renderFacts(c) {
  document.getElementById("complaint-number").textContent = c.number;
  const badge = document.getElementById("status-badge");
  badge.className = `badge status-${c.status}`;
  badge.textContent = (L.status[c.status] || c.status) + (c.outcome ? ` · ${L.outcome[c.outcome] || c.outcome}` : "")
    + (c.overdue ? ` · ${L.text.overdue}` : "");
  const t = L.text;
  const facts = [
    [t.received, `${fmt(c.received_at)} · ${L.channel[c.channel] || c.channel}`],
    [t.category, L.category[c.category] || c.category],
    [t.place, c.place],
    [t.incident, `${fmt(c.incident_start)} – ${fmt(c.incident_end)}`],
    [t.reporter, c.personal_data_visible ? `${c.reporter_name || "—"} ${c.reporter_contact || ""}` : t.personal_hidden],
    [t.what, c.description || "—"],
    [t.assignee, c.assignee || "—"],
    [t.due, fmt(c.due_at)],
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

// Closing actions take an outcome; the others (take into work, reopen) take none.
const CLOSING = new Set(["resolved", "rejected"]);

// The chosen outcome goes to the server exactly as chosen: never replaced by another one. A closing action
// the chosen outcome does not fit (or with no outcome chosen) is disabled; the server refuses it anyway.
function outcomeFits(target, chosen) {
  return Boolean(chosen) && (options.outcomes[target] || []).includes(chosen);
}

function syncClosingButtons() {
  const chosen = document.getElementById("outcome").value;
  for (const button of document.querySelectorAll("#transition-buttons button")) {
    const target = button.dataset.target;
    if (!CLOSING.has(target)) continue;
    const fits = outcomeFits(target, chosen);
    button.disabled = !fits;
    button.title = fits ? "" : chosen ? L.text.outcome_mismatch : L.text.choose_outcome;
  }
}

async function changeStatus(target) {
  const body = { status: target };
  const note = document.getElementById("status-note").value.trim();
  if (note) body.note = note;
  const chosen = document.getElementById("outcome").value;
  if (CLOSING.has(target) && chosen) body.outcome = chosen;
  try {
    showError(null);
    render(await api(`/api/complaints/${id}/status`, { method: "POST", body }));
    document.getElementById("status-note").value = "";
  } catch (e) { showError(e); }
}

function renderActions(detail) {
  if (!canEdit) return;
  const box = document.getElementById("transition-buttons");
  const outcome = document.getElementById("outcome");
  box.replaceChildren();
  const names = { in_progress: detail.complaint.status === "new" ? L.text.take : L.text.reopen, resolved: L.text.resolve, rejected: L.text.reject };
  for (const target of detail.allowed_transitions) {
    const button = el("button", { class: "btn", type: "button", "data-testid": `to-${target}`, "data-target": target }, names[target] || target);
    button.addEventListener("click", () => changeStatus(target));
    box.append(button);
  }
  // Only the outcomes some offered closing action takes, and none chosen until the officer chooses.
  const closing = ["resolved", "rejected"].filter((t) => detail.allowed_transitions.includes(t));
  const offered = [...new Set(closing.flatMap((t) => options.outcomes[t] || []))];
  outcome.replaceChildren(new Option(L.text.choose_outcome, ""), ...offered.map((o) => new Option(L.outcome[o] || o, o)));
  outcome.hidden = closing.length === 0;
  syncClosingButtons();
}

function renderEvidence(detail) {
  const list = document.getElementById("evidence");
  list.replaceChildren();
  for (const item of detail.evidence) {
    const keep = item.lock_expires_at ? `${L.text.locked_until} ${fmt(item.lock_expires_at)}` : L.text.locked;
    const li = el("li", { "data-testid": "evidence-item" },
      el("strong", {}, item.camera_id), ` ${fmt(item.start)} – ${fmt(item.end)} `, el("span", { class: "muted" }, keep),
      item.event_id ? " " : null, item.event_id ? el("span", { class: "badge", "data-testid": "evidence-event" }, `${L.text.event} #${item.event_id}`) : null);
    if (canEdit && ["new", "in_progress"].includes(detail.complaint.status)) {
      const button = el("button", { class: "btn btn-ghost", type: "button" }, L.text.detach);
      button.addEventListener("click", async () => {
        try { render(await api(`/api/complaints/${id}/evidence/${item.id}`, { method: "DELETE" })); } catch (e) { showError(e); }
      });
      li.append(button);
    }
    list.append(li);
  }
  const exportButton = document.getElementById("export-package");
  if (exportButton) exportButton.hidden = detail.evidence.length === 0;
}

function renderHistory(detail) {
  document.getElementById("history").replaceChildren(...detail.history.map((h) => el("li", {},
    el("time", {}, fmt(h.at)), " ", el("strong", {}, L.action[h.action] || h.action), " ",
    h.to_status ? `${L.status[h.from_status] || ""} → ${L.status[h.to_status]} ` : "", el("span", { class: "muted" }, h.user || ""),
    h.note ? el("div", { class: "note" }, h.note) : null)));
}

async function preview(camera, window) {
  const box = document.getElementById("preview");
  const video = document.getElementById("preview-video");
  box.hidden = false;
  document.getElementById("preview-label").textContent = `${camera.name}: ${fmt(window.start)} – ${fmt(window.end)}`;
  try {
    const view = await api("/api/recordings/views", {
      method: "POST", body: { camera: camera.camera_id, start: window.start, end: window.end, complaint: current.complaint.number },
    });
    if (!view.segments.length) { document.getElementById("preview-label").textContent = L.text.no_footage; return; }
    const player = new SegmentPlayer(video, view);
    await player.open();
    player.seek(view.segments[0] ? (new Date(view.segments[0].start) - new Date(view.start)) / 1000 : 0);
    video.play().catch(() => {});
  } catch (e) { showError(e); }
}

async function loadProposals() {
  const data = await api(`/api/complaints/${id}/proposals`);
  document.getElementById("window").textContent = `${fmt(data.window.start)} – ${fmt(data.window.end)}`;
  const box = document.getElementById("proposals");
  box.replaceChildren();
  if (!data.cameras.length) { box.append(el("p", { class: "empty" }, L.text.no_cameras)); return; }
  for (const camera of data.cameras) {
    const bar = el("div", { class: "timeline" });
    const card = el("article", { class: "proposal", "data-testid": `proposal-${camera.camera_id}` },
      el("header", {}, el("strong", {}, camera.name), " ", el("span", { class: "muted" }, `${camera.camera_id} · ${L.match[camera.match] || camera.match}`),
        " ", el("span", { class: "muted" }, `${camera.segments.length} ${L.text.segments}, ${camera.events.length} ${L.text.events}`)),
      bar);
    if (camera.footage_hidden) {
      bar.replaceWith(el("p", { class: "muted", "data-testid": `hidden-${camera.camera_id}` }, L.text.footage_hidden));
    } else {
      renderTimeline(bar, { ...data.window, spans: camera.spans, gaps: camera.gaps, events: camera.events },
        { gapLabel: L.text.gap, recordedLabel: L.text.recorded, format: fmt });
    }
    const tools = el("div", { class: "proposal-tools" });
    const previewButton = el("button", { class: "btn", type: "button", disabled: !camera.segments.length }, L.text.preview);
    previewButton.addEventListener("click", () => preview(camera, data.window));
    tools.append(previewButton);
    if (canEdit && ["new", "in_progress"].includes(current.complaint.status)) {
      const attach = el("button", { class: "btn btn-primary", type: "button", "data-testid": `attach-${camera.camera_id}` }, L.text.attach);
      attach.disabled = camera.attached.length > 0;
      attach.addEventListener("click", async () => {
        try {
          render(await api(`/api/complaints/${id}/evidence`, {
            method: "POST", body: { camera_id: camera.camera_id, start: current.complaint.incident_start, end: current.complaint.incident_end },
          }));
          await loadProposals();
        } catch (e) { showError(e); }
      });
      tools.append(attach);
    }
    card.append(tools);
    box.append(card);
  }
}

function render(detail) {
  current = detail;
  renderFacts(detail.complaint);
  renderActions(detail);
  renderEvidence(detail);
  renderHistory(detail);
}

async function start() {
  options = await api("/api/complaints/options");
  render(await api(`/api/complaints/${id}`));
  document.getElementById("outcome")?.addEventListener("change", syncClosingButtons);
  const noteForm = document.getElementById("note-form");
  if (noteForm) {
    noteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        render(await api(`/api/complaints/${id}/notes`, { method: "POST", body: { note: noteForm.note.value } }));
        noteForm.reset();
      } catch (e) { showError(e); }
    });
  }
  const exportButton = document.getElementById("export-package");
  if (exportButton) {
    exportButton.addEventListener("click", async () => {
      try {
        const result = await api(`/api/complaints/${id}/export`, { method: "POST", body: {} });
        if (result && result.download_url) window.location.assign(result.download_url);
      } catch (e) { showError(e); }
    });
  }
  await loadProposals();
}

start().catch((e) => showError(e));
