// One complaint: details, workflow buttons, notes, history, proposed cameras with footage, attach/detach,
// preview of footage (through an audited playback view, with the complaint number as the reason).
import { api } from "/static/js/api.js";
import { SegmentPlayer } from "/static/js/segmentplayer.js";
import { plural } from "/static/js/plural.js";
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

// One place for the page's error line: every action clears it when it starts and when it succeeds, so an
// earlier refusal never stays on screen after a later success (issue 25, defect 4).
function showError(error) {
  document.getElementById("complaint-error").textContent = error ? error.message : "";
}

async function act(request) {
  showError(null);
  try {
    const result = await request();
    showError(null);
    return result;
  } catch (e) {
    showError(e);
    return null;
  }
}

const isOpen = (detail) => ["new", "in_progress"].includes(detail.complaint.status);

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
  const detail = await act(() => api(`/api/complaints/${id}/status`, { method: "POST", body }));
  if (!detail) return;
  render(detail);
  document.getElementById("status-note").value = "";
  await act(loadProposals);  // attach buttons follow the status (none on a closed complaint)
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

// Detaching releases the lock: one's own attachment at once; someone else's only for a supervisor, with a
// reason (the server decides, ``may_detach`` and ``detach_needs_reason`` say what it will accept).
function detachControl(item) {
  const detach = (body) => act(() => api(`/api/complaints/${id}/evidence/${item.id}`, { method: "DELETE", body }));
  const button = el("button", { class: "btn btn-ghost", type: "button", "data-testid": "detach" }, L.text.detach);
  if (!item.detach_needs_reason) {
    button.addEventListener("click", async () => { const detail = await detach(undefined); if (detail) { render(detail); await act(loadProposals); } });
    return button;
  }
  const reason = el("input", { maxLength: 500, placeholder: L.text.release_reason, "data-testid": "release-reason" });
  reason.setAttribute("aria-label", L.text.release_reason);
  button.addEventListener("click", async () => {
    const detail = await detach({ reason: reason.value.trim() });
    if (detail) { render(detail); await act(loadProposals); }
  });
  return el("span", { class: "release" }, reason, button);
}

function renderEvidence(detail) {
  const list = document.getElementById("evidence");
  list.replaceChildren();
  for (const item of detail.evidence) {
    const keep = item.lock_expires_at ? `${L.text.locked_until} ${fmt(item.lock_expires_at)}` : L.text.locked;
    const li = el("li", { "data-testid": "evidence-item" },
      el("strong", {}, item.camera_id), ` ${fmt(item.start)} – ${fmt(item.end)} `, el("span", { class: "muted" }, keep),
      item.added_by_name ? el("span", { class: "muted" }, ` · ${item.added_by_name}`) : null,
      item.event_id ? " " : null, item.event_id ? el("span", { class: "badge", "data-testid": "evidence-event" }, `${L.text.event} #${item.event_id}`) : null);
    if (canEdit && isOpen(detail) && item.may_detach) li.append(detachControl(item));
    list.append(li);
  }
  const exportButton = document.getElementById("export-package");
  if (exportButton) exportButton.hidden = detail.evidence.length === 0;
}

// What a history entry did, in words: names and translated values from its detail, times in station time.
// Entries written before the detail existed show their stored note only.
function historyText(h) {
  const d = h.detail || {};
  const t = L.text;
  if (h.action === "status") {
    const outcome = d.outcome ? ` · ${L.outcome[d.outcome] || d.outcome}` : "";
    return `${L.status[h.from_status] || ""} → ${L.status[h.to_status] || h.to_status}${outcome}`;
  }
  if (h.action === "assigned" && h.detail) return d.assignee_id ? `${t.assignee}: ${d.assignee || "—"}` : t.assignee_removed;
  if (h.action === "updated" && d.fields) return `${t.changed}: ${d.fields.map((f) => L.field[f] || f).join(", ")}`;
  if (h.action.startsWith("evidence_") && d.camera) return `${d.camera} ${fmt(d.start)} – ${fmt(d.end)}`;
  if (h.action === "still_attached" && d.camera) return `${d.camera} ${formatStation(d.at, zone, lang, true)} · SHA-256 ${d.sha256}`;
  return "";
}

function renderHistory(detail) {
  document.getElementById("history").replaceChildren(...detail.history.map((h) => {
    const what = historyText(h);
    return el("li", { "data-testid": "history-item" },
      el("time", { dateTime: h.at }, fmt(h.at)), " ", el("strong", {}, L.action[h.action] || h.action), " ",
      what ? el("span", { class: "what" }, `${what} `) : null, el("span", { class: "who" }, h.user || ""),
      h.note ? el("div", { class: "note" }, h.note) : null);
  }));
}

async function preview(camera, window) {
  const box = document.getElementById("preview");
  const video = document.getElementById("preview-video");
  showError(null);
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
  linkRecordings(data);
  const box = document.getElementById("proposals");
  box.replaceChildren();
  if (!data.cameras.length) { box.append(el("p", { class: "empty" }, L.text.no_cameras)); return; }
  for (const camera of data.cameras) {
    const bar = el("div", { class: "timeline" });
    const card = el("article", { class: "proposal", "data-testid": `proposal-${camera.camera_id}` },
      el("header", {}, el("strong", {}, camera.name), " ", el("span", { class: "muted" }, `${camera.camera_id} · ${L.match[camera.match] || camera.match}`),
        " ", el("span", { class: "muted" }, `${plural(L.plural.segments, camera.segments.length, lang)}, ${plural(L.plural.events, camera.events.length, lang)}`)),
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
    if (canEdit && isOpen(current)) {
      // Nothing recorded in the window (or hidden from this user): nothing to attach, the lock would cover
      // nothing and the export would fail later (issue 25, defect 4).
      const recorded = !camera.footage_hidden && camera.spans.length > 0;
      const attach = el("button", { class: "btn btn-primary", type: "button", "data-testid": `attach-${camera.camera_id}` }, L.text.attach);
      attach.disabled = camera.attached.length > 0 || !recorded;
      attach.title = recorded ? "" : L.text.nothing_recorded;
      attach.addEventListener("click", async () => {
        const detail = await act(() => api(`/api/complaints/${id}/evidence`, {
          method: "POST", body: { camera_id: camera.camera_id, start: current.complaint.incident_start, end: current.complaint.incident_end },
        }));
        if (!detail) return;
        render(detail);
        await act(loadProposals);
      });
      tools.append(attach);
    }
    card.append(tools);
    box.append(card);
  }
}

// Stills attached from the recordings page: camera, the frame's own time (seconds), the JPEG's SHA-256.
function renderStills(detail) {
  document.getElementById("stills").replaceChildren(...(detail.stills || []).map((still) => el("li", { "data-testid": "still-item" },
    el("strong", {}, `${L.text.still} · ${still.camera_id}`), ` ${formatStation(still.frame_at, zone, lang, true)} `,
    el("span", { class: "muted" }, "SHA-256 "), el("code", { "data-testid": "still-sha256" }, still.sha256),
    still.added_by_name ? el("span", { class: "muted" }, ` · ${still.added_by_name}`) : null, " ",
    el("a", { href: still.url, target: "_blank", rel: "noopener" }, L.text.still_view))));
}

// The recordings page for the complaint's cameras (attached ones first, then the proposed ones, up to four)
// at the incident time, the incident window marked on the timelines, the complaint number as the reason.
function linkRecordings(proposals) {
  const link = document.getElementById("open-recordings");
  if (!link || !current) return;
  const c = current.complaint;
  const cameras = [...new Set([
    ...current.evidence.map((e) => e.camera_id),
    ...proposals.cameras.filter((p) => !p.footage_hidden).map((p) => p.camera_id),
  ])].slice(0, 4);
  link.hidden = cameras.length === 0;
  link.href = `/recordings?${new URLSearchParams({
    cameras: cameras.join(","), at: c.incident_start, mark_start: c.incident_start, mark_end: c.incident_end, complaint: c.number,
  })}`;
}

function render(detail) {
  current = detail;
  renderFacts(detail.complaint);
  renderActions(detail);
  renderEvidence(detail);
  renderStills(detail);
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
      const detail = await act(() => api(`/api/complaints/${id}/notes`, { method: "POST", body: { note: noteForm.note.value } }));
      if (detail) { render(detail); noteForm.reset(); }
    });
  }
  const exportButton = document.getElementById("export-package");
  if (exportButton) {
    exportButton.addEventListener("click", async () => {
      const result = await act(() => api(`/api/complaints/${id}/export`, { method: "POST", body: {} }));
      if (result && result.download_url) window.location.assign(result.download_url);
    });
  }
  await loadProposals();
}

start().catch((e) => showError(e));
