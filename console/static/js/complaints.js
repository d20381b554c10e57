// Complaints list (free-text search, filters with "open / mine" by default, paging, overdue marker) and the
// registration form.
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
  filters.addEventListener("change", firstPage);
  filters.addEventListener("submit", (event) => { event.preventDefault(); firstPage(); });
  let typing = null;
  filters.q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(firstPage, 300); });
  document.getElementById("page-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadList(); });
  document.getElementById("page-next").addEventListener("click", () => { offset += PAGE_SIZE; loadList(); });
  await loadList();
}

start().catch((e) => console.error("complaints:", e));
