// Complaints list (free-text search, filters with "open / mine" by default, paging, overdue marker) and the
// registration form.
//
// The list's filters live in the page's URL too (readUrlFilters / writeUrlFilters), so a link can open the
// list filtered (the notifications' "Overdue complaints: N" opens /complaints?overdue=1&mine=0) and a reload
// or "back" keeps what the user chose. The URL names only what differs from the defaults ("open / mine"):
// q, status (a status, or "any"), mine=0, overdue=1, from, to (station dates). Place and category stay out of
// it: those URL parameters prefill the registration form (a complaint opened from an event).
import { api } from "/static/js/api.js";
import { formatStation, labels, stationToUtc, utcToStationInput } from "/static/js/stationtime.js";

const root = document.querySelector(".complaints");
const zone = root.dataset.timezone;
const lang = root.dataset.lang;
const L = labels();

const PAGE_SIZE = 50;
const OPEN_STATUSES = ["new", "in_progress"];
let offset = 0;

function fillSelect(select, values) {
  const group = select.dataset.options;
  const names = L[group] || {};
  if (select.dataset.any) select.append(new Option(select.dataset.any, ""));
  if (select.dataset.open) select.append(new Option(select.dataset.open, "open", true, true));
  for (const value of values) select.append(new Option(names[value] || value, value));
}

function fillPlaces(places) {
  for (const [key, values] of Object.entries(places)) {
    const list = document.getElementById(`place-${key}`);
    if (list) list.replaceChildren(...values.map((v) => new Option(v, v)));
  }
}

function listParams() {
  const form = document.getElementById("filters");
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) {
    const text = String(value).trim();
    if (!text) continue;
    if (key === "from" || key === "to") {
      params.set(key, stationToUtc(`${text}T00:00`, zone).toISOString());
    } else if (key === "status" && text === "open") {
      for (const status of OPEN_STATUSES) params.append("status", status);
    } else params.set(key, text);
  }
  if (params.has("to")) {
    const to = new Date(params.get("to"));
    params.set("to", new Date(to.getTime() + 86400000).toISOString());
  }
  params.set("limit", String(PAGE_SIZE));
  params.set("offset", String(offset));
  return params;
}

// "51–100 of 123", and the paging buttons enabled only where there is a page to go to.
function renderPager(data) {
  const total = document.getElementById("complaint-total");
  if (!data.items.length) total.textContent = L.text.no_complaints;
  else {
    total.textContent = L.text.page.replace("{first}", data.offset + 1)
      .replace("{last}", data.offset + data.items.length).replace("{total}", data.total);
  }
  document.getElementById("page-prev").disabled = data.offset === 0;
  document.getElementById("page-next").disabled = data.offset + data.items.length >= data.total;
}

const URL_CHECKS = { mine: true, overdue: false }; // checkbox filters kept in the URL, with their defaults
const URL_FIELDS = ["q", "from", "to"];

function truthy(value) {
  return ["1", "true", "on", "yes"].includes(String(value).toLowerCase());
}

// Sets the filter form from the URL: only what the URL names changes; the rest keeps its default.
function readUrlFilters(form, params) {
  for (const [name, fallback] of Object.entries(URL_CHECKS)) {
    form.elements[name].checked = params.has(name) ? truthy(params.get(name)) : fallback;
  }
  for (const name of URL_FIELDS) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
  const status = params.get("status");
  if (status !== null) {
    const wanted = status === "any" ? "" : status;
    if ([...form.elements.status.options].some((o) => o.value === wanted)) form.elements.status.value = wanted;
  }
}

// The filter form's state in the URL (replaceState: no new history entry per keystroke).
function writeUrlFilters(form) {
  const params = new URLSearchParams(window.location.search);
  for (const [name, fallback] of Object.entries(URL_CHECKS)) {
    const checked = form.elements[name].checked;
    if (checked === fallback) params.delete(name);
    else params.set(name, checked ? "1" : "0");
  }
  for (const name of URL_FIELDS) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
    else params.delete(name);
  }
  const status = form.elements.status.value;
  if (status === "open") params.delete("status");
  else params.set("status", status || "any");
  const search = params.toString();
  window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
}

let listed = 0;  // the newest request wins when typing fast

async function loadList() {
  const request = ++listed;
  const data = await api(`/api/complaints?${listParams()}`);
  if (request !== listed) return;
  const rows = document.getElementById("complaint-rows");
  rows.replaceChildren();
  for (const c of data.items) {
    const tr = document.createElement("tr");
    tr.className = c.overdue ? "overdue" : "";
    const cells = [
      null, formatStation(c.received_at, zone, lang), L.category[c.category] || c.category, c.place,
      null, c.assignee || "—", formatStation(c.due_at, zone, lang),
    ];
    cells.forEach((text, index) => {
      const td = document.createElement("td");
      if (index === 0) {
        const a = document.createElement("a");
        a.href = `/complaints/${c.id}`;
        a.textContent = c.number;
        td.append(a);
      } else if (index === 4) {
        const badge = document.createElement("span");
        badge.className = `badge status-${c.status}`;
        badge.textContent = L.status[c.status] || c.status;
        td.append(badge);
        if (c.overdue) {
          const mark = document.createElement("span");
          mark.className = "badge overdue-mark";
          mark.textContent = L.text.overdue;
          td.append(" ", mark);
        }
      } else td.textContent = text;
      tr.append(td);
    });
    rows.append(tr);
  }
  renderPager(data);
}

function firstPage() {
  offset = 0;
  writeUrlFilters(document.getElementById("filters"));
  loadList().catch((e) => console.error("complaints:", e));
}

async function register(event) {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("register-error");
  error.textContent = "";
  const values = Object.fromEntries(new FormData(form));
  const body = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === "") continue;
    body[key] = ["received_at", "incident_start", "incident_end"].includes(key)
      ? stationToUtc(value, zone).toISOString() : value;
  }
  try {
    const detail = await api("/api/complaints", { method: "POST", body });
    window.location.assign(`/complaints/${detail.complaint.id}`);
  } catch (e) {
    error.textContent = e.message;
  }
}

// A form opened from elsewhere (the events page's "New complaint from it") comes prefilled from the URL:
// place, category, description, and the incident's instants (UTC, shown as station time; the end rounded up
// to the minute so that the window still covers it).
function prefill(form, params) {
  for (const key of ["building", "entrance", "area", "description"]) {
    if (params.get(key)) form.elements[key].value = params.get(key);
  }
  const category = params.get("category");
  if (category && [...form.elements.category.options].some((o) => o.value === category)) form.elements.category.value = category;
  const start = Date.parse(params.get("incident_start") || "");
  const end = Date.parse(params.get("incident_end") || "");
  if (!Number.isNaN(start)) form.incident_start.value = utcToStationInput(new Date(start), zone);
  if (!Number.isNaN(end)) form.incident_end.value = utcToStationInput(new Date(end + 59999), zone);
}

async function start() {
  const options = await api("/api/complaints/options");
  document.querySelectorAll("select[data-options]").forEach((select) => fillSelect(select, options[`${select.dataset.options === "status" ? "statuses" : select.dataset.options === "category" ? "categories" : "channels"}`]));
  fillPlaces(options.places);
  const form = document.getElementById("register-form");
  if (form) {
    const now = new Date();
    form.received_at.value = utcToStationInput(now, zone);
    form.incident_start.value = utcToStationInput(new Date(now.getTime() - 3600000), zone);
    form.incident_end.value = utcToStationInput(now, zone);
    prefill(form, new URLSearchParams(window.location.search));
    form.addEventListener("submit", register);
  }
  const filters = document.getElementById("filters");
  readUrlFilters(filters, new URLSearchParams(window.location.search));
  filters.addEventListener("change", firstPage);
  filters.addEventListener("submit", (event) => { event.preventDefault(); firstPage(); });
  let typing = null;
  filters.q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(firstPage, 300); });
  document.getElementById("page-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadList(); });
  document.getElementById("page-next").addEventListener("click", () => { offset += PAGE_SIZE; loadList(); });
  await loadList();
}

start().catch((e) => console.error("complaints:", e));
