// The events page: the officer's review queue of detection events.
//
// The list comes from GET /api/events (newest first) with the filters of the form, which are kept in the
// page's URL (station time for the period; "review" is "pending" unless the URL says otherwise). Clicking an
// event (or Enter) plays its clip in place; Confirm and "False alarm" (a reason is required) post a review;
// "Attach to complaint" attaches the event's footage (its clip's range: the configured pre- and post-roll
// around the event) to an open complaint; "New complaint from it" opens the registration form prefilled with
// the camera's place and the event's time. The live stream of active events (GET /api/events/stream) tells
// the page when new events arrive and when an ongoing one ends. Keyboard: j/k or arrows, Enter, c, f.

import { api, pageLanguage } from "./api.js";
import {
  formatStation, formatStationClock, sameStationDay, stationToUtc,
} from "./stationtime.js";

const config = JSON.parse(document.getElementById("events-config").textContent);
const S = config.strings;
const zone = config.timezone;
const lang = config.lang;
const PAGE_SIZE = 20;
const FILTERS = ["camera", "kind", "zone", "review", "from", "to"];
const DEFAULT_REVIEW = "pending";

const form = document.getElementById("event-filters");
const list = document.getElementById("event-list");
const template = document.getElementById("event-template");
const errorBox = document.getElementById("events-error");
const statusBox = document.getElementById("events-status");
const newButton = document.getElementById("events-new");

const state = {
  items: [],
  total: 0,
  offset: 0,
  selected: -1,
  playing: null, // {node, video}
  active: null, // ids of the events going on, as the stream last said (null before its first message)
  loading: 0,
};

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function showError(error) {
  errorBox.textContent = error ? (error.message || String(error)) : "";
}

function showStatus(...parts) {
  statusBox.replaceChildren(...parts);
}

function kindLabel(kind) {
  return config.kinds[kind] || kind;
}

function cameraOf(item) {
  return config.cameras.find((c) => c.id === item.camera_id) || null;
}

// --- filters <-> URL ---------------------------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  for (const name of FILTERS) {
    const field = form.elements[name];
    const value = params.get(name);
    if (name === "review") field.value = value && [...field.options].some((o) => o.value === value) ? value : DEFAULT_REVIEW;
    else field.value = value || "";
  }
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  state.offset = (page - 1) * PAGE_SIZE;
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value && !(name === "review" && value === DEFAULT_REVIEW)) params.set(name, value);
  }
  const page = Math.floor(state.offset / PAGE_SIZE) + 1;
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
}

function apiQuery() {
  const params = new URLSearchParams();
  for (const name of ["camera", "kind", "zone"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  const review = form.elements.review.value;
  if (review && review !== "any") params.set("review", review);
  if (form.elements.from.value) params.set("start", stationToUtc(form.elements.from.value, zone).toISOString());
  if (form.elements.to.value) params.set("end", stationToUtc(form.elements.to.value, zone).toISOString());
  params.set("limit", String(PAGE_SIZE));
  params.set("offset", String(state.offset));
  return params;
}

// --- the list ----------------------------------------------------------------------------------------

async function load({ select = "first", focus = false } = {}) {
  const ticket = ++state.loading;
  writeUrl();
  let page;
  try {
    page = await api(`/api/events?${apiQuery()}`);
  } catch (error) {
    if (ticket === state.loading) showError(error);
    return;
  }
  if (ticket !== state.loading) return; // a newer request is on its way
  if (!page.items.length && state.offset > 0 && page.total > 0) {
    state.offset = Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE;
    await load({ select: "last", focus });
    return;
  }
  showError(null);
  newButton.hidden = true;
  state.items = page.items;
  state.total = page.total;
  renderList();
  const keep = typeof select === "number" ? state.items.findIndex((item) => item.id === select) : -1;
  const index = keep >= 0 ? keep : select === "last" ? state.items.length - 1 : 0;
  if (state.items.length) selectIndex(index, { focus });
}

function renderList() {
  stopPlaying();
  state.selected = -1;
  list.replaceChildren(...state.items.map((item) => {
    const node = template.content.firstElementChild.cloneNode(true);
    renderCard(node, item);
    return node;
  }));
  document.getElementById("events-empty").hidden = state.items.length > 0;
  const last = state.offset + state.items.length;
  document.getElementById("events-shown").textContent = state.items.length
    ? format(S.shown, { first: state.offset + 1, last, total: state.total }) : "";
  document.getElementById("events-prev").disabled = state.offset === 0;
  document.getElementById("events-next").disabled = last >= state.total;
}

function timeText(item) {
  const start = formatStation(item.start_utc, zone, lang, true);
  if (!item.end_utc) return start;
  const end = sameStationDay(item.start_utc, item.end_utc, zone)
    ? formatStationClock(item.end_utc, zone, lang) : formatStation(item.end_utc, zone, lang, true);
  return `${start} – ${end}`;
}

function renderCard(node, item) {
  node.dataset.id = String(item.id);
  node.dataset.camera = item.camera_id;
  node.dataset.kind = item.kind;
  node.dataset.review = item.review;
  node.classList.toggle("ongoing", item.ongoing);
  const image = node.querySelector(".event-thumb img");
  if (item.snapshot_url && image.getAttribute("src") !== item.snapshot_url) image.src = item.snapshot_url;
  image.hidden = !item.snapshot_url;
  node.querySelector(".event-no-picture").hidden = Boolean(item.snapshot_url);
  node.querySelector(".event-camera").textContent = item.camera_name;
  const kind = node.querySelector(".event-kind");
  kind.textContent = kindLabel(item.kind);
  kind.className = `badge event-kind kind-${item.kind}`;
  node.querySelector(".event-zone").textContent = item.zone ? `${S.zone}: ${item.zone}` : "";
  const time = node.querySelector(".event-time");
  time.replaceChildren(timeText(item));
  if (item.ongoing) {
    const mark = document.createElement("span");
    mark.className = "badge event-ongoing";
    mark.dataset.testid = "event-ongoing";
    mark.textContent = S.ongoing;
    time.append(" ", mark);
  }
  const review = node.querySelector(".review-badge");
  review.textContent = config.reviews[item.review] || item.review;
  review.className = `badge review-badge review-${item.review}`;
  node.querySelector(".event-reason").textContent = item.review === "dismissed" && item.review_reason ? item.review_reason : "";
  const confirm = node.querySelector("[data-action=confirm]");
  const dismiss = node.querySelector("[data-action=dismiss]");
  for (const [button, done] of [[confirm, "confirmed"], [dismiss, "dismissed"]]) {
    if (!button) continue;
    button.disabled = item.ongoing || item.review === done;
    button.title = item.ongoing ? S.ongoing_review : "";
  }
  const newComplaint = node.querySelector("[data-action=complaint]");
  if (newComplaint) newComplaint.href = complaintUrl(item);
}

function nodeAt(index) {
  return list.children[index] || null;
}

function selectIndex(index, { focus = true } = {}) {
  if (!state.items.length) return;
  const clamped = Math.min(Math.max(index, 0), state.items.length - 1);
  const previous = nodeAt(state.selected);
  if (previous) { previous.classList.remove("selected"); previous.removeAttribute("aria-current"); }
  state.selected = clamped;
  const node = nodeAt(clamped);
  node.classList.add("selected");
  node.setAttribute("aria-current", "true");
  if (focus && !document.querySelector("dialog[open]")) node.focus({ preventScroll: true });
  node.scrollIntoView({ block: "nearest" });
}

async function next() {
  if (state.selected < state.items.length - 1) selectIndex(state.selected + 1);
  else if (state.offset + state.items.length < state.total) {
    state.offset += PAGE_SIZE;
    await load({ select: "first", focus: true });
  }
}

async function previous() {
  if (state.selected > 0) selectIndex(state.selected - 1);
  else if (state.offset > 0) {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    await load({ select: "last", focus: true });
  }
}

// --- the clip ----------------------------------------------------------------------------------------

function stopPlaying() {
  const playing = state.playing;
  state.playing = null;
  if (!playing) return;
  playing.video.pause();
  playing.video.removeAttribute("src");
  playing.video.load();
  playing.video.remove();
  playing.node.querySelector(".event-thumb").hidden = false;
  playing.node.classList.remove("playing");
}

function mediaNote(node, text) {
  const note = node.querySelector(".event-media-note");
  note.textContent = text || "";
  note.hidden = !text;
}

function play(index) {
  const item = state.items[index];
  const node = nodeAt(index);
  if (!item || !node) return;
  stopPlaying();
  mediaNote(node, "");
  if (!item.clip_url) {
    mediaNote(node, item.ongoing ? S.clip_ongoing : S.clip_not_ready);
    return;
  }
  const video = document.createElement("video");
  video.className = "event-video";
  video.dataset.testid = "event-video";
  video.controls = true;
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.addEventListener("error", () => clipFailed(node, item, video));
  video.src = item.clip_url;
  node.querySelector(".event-thumb").hidden = true;
  node.querySelector(".event-media").prepend(video);
  node.classList.add("playing");
  state.playing = { node, video };
  video.play().catch(() => {});
}

// The <video> says only that it failed; ask the station why (one byte), in the page's language.
async function clipFailed(node, item, video) {
  if (!state.playing || state.playing.video !== video) return;
  stopPlaying();
  let message = S.clip_failed;
  try {
    const response = await fetch(item.clip_url, {
      headers: { Range: "bytes=0-0", Accept: "application/json", "Accept-Language": pageLanguage() },
      credentials: "same-origin",
    });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      message = (data && data.error && data.error.message) || message;
    }
  } catch (error) {
    console.warn("events: clip check failed", error);
  }
  mediaNote(node, message);
}

// --- review ------------------------------------------------------------------------------------------

async function review(index, decision, reason) {
  const item = state.items[index];
  const updated = await api(`/api/events/${item.id}/review`, { method: "POST", body: { decision, reason } });
  state.items[index] = updated;
  renderCard(nodeAt(index), updated);
  showError(null);
  showStatus(decision === "confirmed" ? S.confirmed : S.dismissed);
  if (index < state.items.length - 1) selectIndex(index + 1);
}

async function confirmEvent(index) {
  const item = state.items[index];
  if (!config.can_review || !item) return;
  if (item.ongoing) { showError(S.ongoing_review); return; }
  try {
    await review(index, "confirmed");
  } catch (error) {
    showError(error);
  }
}

function eventLabel(item) {
  return `${item.camera_name} · ${kindLabel(item.kind)} · ${timeText(item)}`;
}

let dialogIndex = -1;
let returnFocus = null;

function openDialog(dialog, index) {
  dialogIndex = index;
  returnFocus = document.activeElement;
  dialog.showModal();
}

function setupDialog(dialog) {
  if (!dialog) return;
  dialog.querySelectorAll("[data-close]").forEach((button) => button.addEventListener("click", () => dialog.close()));
  dialog.addEventListener("close", () => {
    const target = returnFocus && returnFocus.isConnected ? returnFocus : nodeAt(state.selected);
    returnFocus = null;
    if (target) target.focus({ preventScroll: true });
  });
}

const dismissDialog = document.getElementById("dismiss-dialog");

function askDismiss(index) {
  const item = state.items[index];
  if (!config.can_review || !item || !dismissDialog) return;
  if (item.ongoing) { showError(S.ongoing_review); return; }
  document.getElementById("dismiss-event").textContent = eventLabel(item);
  document.getElementById("dismiss-reason").value = "";
  document.getElementById("dismiss-error").textContent = "";
  openDialog(dismissDialog, index);
  document.getElementById("dismiss-reason").focus();
}

async function submitDismiss(event) {
  event.preventDefault();
  const reasonField = document.getElementById("dismiss-reason");
  const errorField = document.getElementById("dismiss-error");
  const reason = reasonField.value.trim();
  if (!reason) {
    errorField.textContent = S.reason_required;
    reasonField.focus();
    return;
  }
  try {
    await review(dialogIndex, "dismissed", reason);
    returnFocus = nodeAt(state.selected);
    dismissDialog.close();
  } catch (error) {
    errorField.textContent = error.message || String(error);
  }
}

// --- complaints --------------------------------------------------------------------------------------

// The event's footage as its clip has it: the configured pre- and post-roll around the event, never
// beyond now (an ongoing event runs to now).
function attachRange(item) {
  const now = Date.now();
  const start = new Date(item.start_utc).getTime() - config.pre_s * 1000;
  const end = Math.min((item.end_utc ? new Date(item.end_utc).getTime() : now) + config.post_s * 1000, now);
  return { start: new Date(start).toISOString(), end: new Date(Math.max(end, start + 1000)).toISOString() };
}

function complaintUrl(item) {
  const params = new URLSearchParams();
  const camera = cameraOf(item);
  for (const key of ["building", "entrance", "area"]) {
    if (camera && camera[key]) params.set(key, camera[key]);
  }
  params.set("incident_start", item.start_utc);
  params.set("incident_end", item.end_utc || new Date().toISOString());
  if (config.categories[item.kind]) params.set("category", item.kind);
  params.set("description", format(S.description, { id: item.id, kind: kindLabel(item.kind), camera: item.camera_name }));
  return `/complaints?${params}`;
}

const attachDialog = document.getElementById("attach-dialog");

async function askAttach(index) {
  const item = state.items[index];
  if (!config.can_attach || !item || !attachDialog) return;
  const select = document.getElementById("attach-complaint");
  const errorField = document.getElementById("attach-error");
  const submit = attachDialog.querySelector("[type=submit]");
  const range = attachRange(item);
  document.getElementById("attach-event").textContent = eventLabel(item);
  document.getElementById("attach-range").textContent =
    `${formatStation(range.start, zone, lang, true)} – ${formatStation(range.end, zone, lang, true)}`;
  errorField.textContent = "";
  select.replaceChildren(new Option(S.loading, ""));
  submit.disabled = true;
  openDialog(attachDialog, index);
  try {
    const open = await api("/api/complaints?status=new&status=in_progress&limit=200");
    select.replaceChildren(...open.items.map((c) => new Option(
      `${c.number} · ${config.categories[c.category] || c.category} · ${c.place}`, String(c.id))));
    submit.disabled = open.items.length === 0;
    if (!open.items.length) errorField.textContent = S.no_open_complaints;
    select.focus();
  } catch (error) {
    select.replaceChildren();
    errorField.textContent = error.message || String(error);
  }
}

async function submitAttach(event) {
  event.preventDefault();
  const select = document.getElementById("attach-complaint");
  const errorField = document.getElementById("attach-error");
  const item = state.items[dialogIndex];
  if (!select.value || !item) return;
  const range = attachRange(item);
  try {
    const detail = await api(`/api/complaints/${select.value}/evidence`, {
      method: "POST", body: { camera_id: item.camera_id, start: range.start, end: range.end, event_id: item.id },
    });
    attachDialog.close();
    const link = document.createElement("a");
    link.href = `/complaints/${detail.complaint.id}`;
    link.textContent = detail.complaint.number;
    link.dataset.testid = "attached-complaint";
    const [before, after = ""] = S.attached.split("%(number)s");
    showError(null);
    showStatus(before, link, after);
  } catch (error) {
    errorField.textContent = error.message || String(error);
  }
}

// --- the live stream of active events -------------------------------------------------------------------

function onActive(active) {
  const ids = new Set(active.map((a) => a.id));
  const before = state.active;
  state.active = ids;
  if (before === null) return;
  const arrived = [...ids].some((id) => !before.has(id) && !state.items.some((item) => item.id === id));
  if (arrived) {
    newButton.textContent = S.new_events;
    newButton.hidden = false;
  }
  for (const id of before) {
    if (ids.has(id)) continue;
    const index = state.items.findIndex((item) => item.id === id);
    if (index >= 0) refreshItem(index, id);
  }
}

async function refreshItem(index, id) {
  try {
    const updated = await api(`/api/events/${id}`);
    if (state.items[index] && state.items[index].id === id) {
      state.items[index] = updated;
      renderCard(nodeAt(index), updated);
    }
  } catch (error) {
    console.warn("events: cannot refresh event", id, error);
  }
}

function subscribe() {
  if (!window.EventSource) return;
  const source = new EventSource("/api/events/stream");
  source.addEventListener("active", (message) => {
    try {
      onActive(JSON.parse(message.data));
    } catch (error) {
      console.warn("events: unreadable stream message", error);
    }
  });
  window.addEventListener("pagehide", () => source.close());
}

// --- input -------------------------------------------------------------------------------------------

function onListClick(event) {
  const node = event.target.closest("li.event");
  if (!node) return;
  const index = [...list.children].indexOf(node);
  if (index !== state.selected) selectIndex(index, { focus: false });
  const action = event.target.closest("[data-action]");
  if (action) {
    const name = action.dataset.action;
    if (name === "complaint") { action.href = complaintUrl(state.items[index]); return; }
    if (name === "confirm") confirmEvent(index);
    else if (name === "dismiss") askDismiss(index);
    else if (name === "attach") askAttach(index);
    return;
  }
  // a click anywhere else on the event plays its clip (but not on the clip already playing)
  if (!event.target.closest("video") && !(state.playing && state.playing.node === node)) play(index);
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  const target = event.target instanceof Element ? event.target : null;
  if (target && target.closest("input, textarea, select, [contenteditable]")) return;
  const onControl = Boolean(target && target.closest("button, a, video"));
  const actions = {
    j: next, ArrowDown: next, k: previous, ArrowUp: previous,
    Enter: () => play(state.selected), c: () => confirmEvent(state.selected), f: () => askDismiss(state.selected),
  };
  const action = actions[event.key];
  if (!action || (onControl && ["Enter", "ArrowDown", "ArrowUp"].includes(event.key))) return;
  if (!state.items.length) return;
  event.preventDefault();
  action();
}

function onFilter() {
  state.offset = 0;
  load({ select: "first" });
}

function start() {
  readUrl();
  form.addEventListener("change", onFilter);
  form.addEventListener("submit", (event) => { event.preventDefault(); onFilter(); });
  form.addEventListener("reset", () => window.setTimeout(onFilter, 0));
  list.addEventListener("click", onListClick);
  document.addEventListener("keydown", onKey);
  document.getElementById("events-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    load({ select: "first" });
  });
  document.getElementById("events-next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    load({ select: "first" });
  });
  newButton.addEventListener("click", () => { state.offset = 0; load({ select: "first" }); });
  setupDialog(dismissDialog);
  setupDialog(attachDialog);
  document.getElementById("dismiss-form")?.addEventListener("submit", submitDismiss);
  document.getElementById("attach-form")?.addEventListener("submit", submitAttach);
  subscribe();
  load({ select: "first" });
}

window.stationEvents = {
  // For tests and diagnostics: what the page shows right now.
  describe: () => ({
    ids: state.items.map((item) => item.id), total: state.total, offset: state.offset,
    selected: state.items[state.selected] ? state.items[state.selected].id : null,
    playing: state.playing ? Number(state.playing.node.dataset.id) : null,
    streaming: state.active !== null,
  }),
};

start();
