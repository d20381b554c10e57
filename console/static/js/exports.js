// The exports list: who built which evidence package and when, its fingerprint, "download again".
//
// The rows come from GET /api/exports (newest first) with the filters of the form, kept in the page's
// URL (station time for the period, sent to the API as UTC). "Download again" is a plain link to
// GET /api/exports/{id}/download, which records the download in the audit log and names the file after
// the complaint the package is filed under.

import { api } from "./api.js";
import { formatStation, stationToUtc } from "./stationtime.js";

const config = JSON.parse(document.getElementById("exports-config").textContent);
const S = config.strings;
const zone = config.timezone;
const lang = config.lang;
const PAGE_SIZE = 50;
const FILTERS = ["scope", "complaint", "from", "to"];

const form = document.getElementById("exports-filters");
const rows = document.getElementById("exports-rows");
const empty = document.getElementById("exports-empty");
const shown = document.getElementById("exports-shown");
const errorBox = document.getElementById("exports-error");
const prev = document.getElementById("exports-prev");
const next = document.getElementById("exports-next");

const state = { offset: 0, total: 0, loading: 0 };

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function showError(error) {
  errorBox.textContent = error ? (error.message || String(error)) : "";
}

// --- filters <-> URL and API query ------------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field && field.type !== "hidden") field.value = params.get(name) || "";
  }
  const scope = form.elements.scope;
  if (scope && !scope.value) scope.value = config.defaultScope;
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  state.offset = (page - 1) * PAGE_SIZE;
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements[name];
    const value = field && field.type !== "hidden" ? field.value.trim() : "";
    if (value) params.set(name, value);
  }
  if (state.offset) params.set("page", String(state.offset / PAGE_SIZE + 1));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

// The filters as the API takes them (UTC times), or null when the period is backwards.
function apiFilters() {
  const params = new URLSearchParams();
  params.set("scope", form.elements.scope.value || config.defaultScope);
  const complaint = form.elements.complaint.value.trim();
  if (complaint) params.set("complaint", complaint);
  const from = form.elements.from.value;
  const to = form.elements.to.value;
  const start = from ? stationToUtc(from, zone) : null;
  const end = to ? stationToUtc(to, zone) : null;
  if (start && end && end <= start) return null;
  if (start) params.set("start", start.toISOString());
  if (end) params.set("end", end.toISOString());
  return params;
}

// --- the table --------------------------------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  if (className) td.className = className;
  return td;
}

// "3f2a 9c01 …": a fingerprint read aloud or compared by eye, four hex digits at a time.
function fingerprint(sha256) {
  return sha256 ? sha256.match(/.{1,4}/g).join(" ") : S.no_fingerprint;
}

function size(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString(lang, { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}

function clipsText(item) {
  if (!item.clips.length) return item.reason || "—";
  return item.clips
    .map((clip) => {
      const from = clip.start ? formatStation(clip.start, zone, lang, true) : "?";
      const to = clip.end ? formatStation(clip.end, zone, lang, true) : "?";
      return `${clip.camera}: ${from} – ${to}`;
    })
    .join("\n");
}

function statusCell(item) {
  const td = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `badge badge-${item.status}`;
  badge.dataset.testid = "export-status";
  badge.textContent = S.status[item.status] || item.status;
  td.append(badge);
  if (item.expires_at) {
    const when = document.createElement("div");
    when.className = "muted";
    when.textContent = format(S.expires, { when: formatStation(item.expires_at, zone, lang) });
    td.append(when);
  }
  return td;
}

function downloadCell(item) {
  const td = document.createElement("td");
  if (item.download_url) {
    const link = document.createElement("a");
    link.className = "btn";
    link.href = item.download_url;
    link.setAttribute("download", "");
    link.dataset.testid = "export-download";
    link.textContent = S.download;
    td.append(link);
  }
  return td;
}

function row(item) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "export-row";
  tr.dataset.id = String(item.export_id);
  const clips = cell(clipsText(item), "exports-clips");
  clips.classList.add("pre-line");
  tr.append(
    cell(formatStation(item.created_at, zone, lang, true), "exports-time"),
    cell(item.created_by, "nowrap"),
    cell(item.complaint_number, "nowrap"),
    clips,
    statusCell(item),
    cell(size(item.bytes), "nowrap"),
    cell(fingerprint(item.sha256), "fingerprint"),
    downloadCell(item),
  );
  return tr;
}

function render(page) {
  state.total = page.total;
  rows.replaceChildren(...page.items.map(row));
  empty.hidden = page.items.length > 0;
  shown.textContent = page.items.length
    ? format(S.shown, { first: page.offset + 1, last: page.offset + page.items.length, total: page.total })
    : "";
  prev.disabled = state.offset === 0;
  next.disabled = state.offset + PAGE_SIZE >= page.total;
}

async function load() {
  const params = apiFilters();
  if (!params) {
    showError({ message: S.range });
    return;
  }
  params.set("limit", String(PAGE_SIZE));
  params.set("offset", String(state.offset));
  const ticket = ++state.loading;
  shown.textContent = S.loading;
  try {
    const page = await api(`/api/exports?${params}`);
    if (ticket !== state.loading) return;
    showError(null);
    render(page);
  } catch (error) {
    if (ticket === state.loading) showError(error);
  }
}

// --- wiring -----------------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  state.offset = 0;
  writeUrl();
  load();
});
form.addEventListener("reset", () => {
  window.setTimeout(() => {
    const scope = form.elements.scope;
    if (scope && scope.type !== "hidden") scope.value = config.defaultScope;
    state.offset = 0;
    writeUrl();
    load();
  });
});
if (form.elements.scope && form.elements.scope.type !== "hidden") {
  form.elements.scope.addEventListener("change", () => form.requestSubmit());
}
prev.addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - PAGE_SIZE);
  writeUrl();
  load();
});
next.addEventListener("click", () => {
  if (state.offset + PAGE_SIZE < state.total) state.offset += PAGE_SIZE;
  writeUrl();
  load();
});

readUrl();
load();
