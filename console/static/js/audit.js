// The audit-log viewer: the auditor's filtered list of the hash-chained log.
//
// The rows come from GET /api/audit (newest first) with the filters of the form, which are kept in the
// page's URL (station time for the period, sent to the API as UTC). "Verify chain" calls GET
// /api/audit/verify and shows whether the chain is intact or the first broken row; the CSV link always
// carries the current filters (GET /api/audit.csv). Every view, verification and export is itself audited
// by the server.

import { api } from "./api.js";
import { formatStation, stationToUtc } from "./stationtime.js";

const config = JSON.parse(document.getElementById("audit-config").textContent);
const S = config.strings;
const zone = config.timezone;
const lang = config.lang;
const PAGE_SIZE = 50;
const FILTERS = ["user", "action", "resource_type", "resource_id", "allowed", "from", "to"];

const form = document.getElementById("audit-filters");
const rows = document.getElementById("audit-rows");
const empty = document.getElementById("audit-empty");
const shown = document.getElementById("audit-shown");
const errorBox = document.getElementById("audit-error");
const verdict = document.getElementById("audit-verdict");
const csvLink = document.getElementById("audit-csv");
const prev = document.getElementById("audit-prev");
const next = document.getElementById("audit-next");
const verifyButton = document.getElementById("audit-verify");

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
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  state.offset = (page - 1) * PAGE_SIZE;
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  if (state.offset) params.set("page", String(state.offset / PAGE_SIZE + 1));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

// The filters as the API takes them (UTC times), or null when the period is backwards.
function apiFilters() {
  const params = new URLSearchParams();
  for (const name of ["user", "action", "resource_type", "resource_id", "allowed"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
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

function resourceText(item) {
  if (!item.resource_type && !item.resource_id) return "—";
  return [item.resource_type, item.resource_id].filter(Boolean).join(" ");
}

function detailText(item) {
  return [item.reason, item.detail].filter(Boolean).join(" · ") || "—";
}

function row(item) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "audit-row";
  tr.dataset.id = String(item.id);
  if (!item.allowed) tr.classList.add("denied");
  const outcome = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `badge ${item.allowed ? "badge-allowed" : "badge-denied"}`;
  badge.textContent = item.allowed ? S.allowed : S.denied;
  outcome.append(badge);
  const who = item.username || (item.user_id ? `#${item.user_id}` : "—");
  tr.append(
    cell(formatStation(item.at, zone, lang, true), "audit-time"),
    cell(item.source ? `${who} (${item.source})` : who),
    cell(item.action),
    cell(resourceText(item)),
    outcome,
    cell(detailText(item), "audit-detail"),
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
  csvLink.href = `/api/audit.csv${params.toString() ? `?${params}` : ""}`;
  params.set("limit", String(PAGE_SIZE));
  params.set("offset", String(state.offset));
  const ticket = ++state.loading;
  shown.textContent = S.loading;
  try {
    const page = await api(`/api/audit?${params}`);
    if (ticket !== state.loading) return;
    showError(null);
    render(page);
  } catch (error) {
    if (ticket === state.loading) showError(error);
  }
}

// --- chain verification -----------------------------------------------------------------------------

async function verifyChain() {
  verifyButton.disabled = true;
  verdict.hidden = false;
  verdict.className = "audit-verdict";
  verdict.textContent = S.verifying;
  try {
    const report = await api("/api/audit/verify");
    if (report.ok) {
      verdict.classList.add("ok");
      verdict.textContent = format(S.chain_ok, { rows: report.rows });
    } else {
      verdict.classList.add("broken");
      verdict.textContent = format(S.chain_broken, {
        id: report.first_break.entry_id,
        message: report.first_break.message,
        count: report.breaks.length,
        rows: report.rows,
      });
    }
  } catch (error) {
    verdict.hidden = true;
    showError(error);
  } finally {
    verifyButton.disabled = false;
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
    state.offset = 0;
    writeUrl();
    load();
  });
});
form.elements.allowed.addEventListener("change", () => form.requestSubmit());
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
verifyButton.addEventListener("click", verifyChain);

readUrl();
load();
