// A filtered, paged list page (the audit log, the exports): the filter form kept in the page's URL
// (station time for the period, sent to the API as UTC), "previous"/"next" by PAGE_SIZE rows, and the
// "rows x–y of z" line. The page's elements are found by id under its prefix: <prefix>-filters, -rows,
// -empty, -shown, -error, -prev, -next.

import { api } from "./api.js";
import { stationToUtc } from "./stationtime.js";

export const PAGE_SIZE = 50;

// "%(name)s" placeholders filled from values (the server's gettext texts).
export function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  if (className) td.className = className;
  return td;
}

// Start the list: `filters` are the form fields kept in the URL (hidden ones are not), `query(params, form)`
// adds the API's filters other than the period, `row(item)` draws one row. The hooks: `onRead(form)` after
// the URL was read into the form, `onReset(form)` after the form was reset, `onQuery(params)` with the API
// filters (without paging) before each load. Returns { form, showError }.
export function listPage({
  prefix,
  endpoint,
  filters,
  strings,
  zone,
  query,
  row,
  onRead = () => {},
  onReset = () => {},
  onQuery = () => {},
}) {
  const byId = (name) => document.getElementById(`${prefix}-${name}`);
  const form = byId("filters");
  const rows = byId("rows");
  const empty = byId("empty");
  const shown = byId("shown");
  const errorBox = byId("error");
  const prev = byId("prev");
  const next = byId("next");
  const state = { offset: 0, total: 0, loading: 0 };

  function showError(error) {
    errorBox.textContent = error ? (error.message || String(error)) : "";
  }

  function urlField(name) {
    const field = form.elements[name];
    return field && field.type !== "hidden" ? field : null;
  }

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    for (const name of filters) {
      const field = urlField(name);
      if (field) field.value = params.get(name) || "";
    }
    onRead(form);
    const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
    state.offset = (page - 1) * PAGE_SIZE;
  }

  function writeUrl() {
    const params = new URLSearchParams();
    for (const name of filters) {
      const value = urlField(name)?.value.trim();
      if (value) params.set(name, value);
    }
    if (state.offset) params.set("page", String(state.offset / PAGE_SIZE + 1));
    const search = params.toString();
    window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  }

  // The filters as the API takes them (UTC times), or null when the period is backwards.
  function apiFilters() {
    const params = new URLSearchParams();
    query(params, form);
    const from = form.elements.from.value;
    const to = form.elements.to.value;
    const start = from ? stationToUtc(from, zone) : null;
    const end = to ? stationToUtc(to, zone) : null;
    if (start && end && end <= start) return null;
    if (start) params.set("start", start.toISOString());
    if (end) params.set("end", end.toISOString());
    return params;
  }

  function render(page) {
    state.total = page.total;
    rows.replaceChildren(...page.items.map(row));
    empty.hidden = page.items.length > 0;
    shown.textContent = page.items.length
      ? format(strings.shown, { first: page.offset + 1, last: page.offset + page.items.length, total: page.total })
      : "";
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + PAGE_SIZE >= page.total;
  }

  async function load() {
    const params = apiFilters();
    if (!params) {
      showError({ message: strings.range });
      return;
    }
    onQuery(params);
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String(state.offset));
    const ticket = ++state.loading;
    shown.textContent = strings.loading;
    try {
      const page = await api(`${endpoint}?${params}`);
      if (ticket !== state.loading) return;
      showError(null);
      render(page);
    } catch (error) {
      if (ticket === state.loading) showError(error);
    }
  }

  function goTo(offset) {
    state.offset = offset;
    writeUrl();
    load();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    goTo(0);
  });
  form.addEventListener("reset", () => {
    window.setTimeout(() => {
      onReset(form);
      goTo(0);
    });
  });
  prev.addEventListener("click", () => goTo(Math.max(0, state.offset - PAGE_SIZE)));
  next.addEventListener("click", () =>
    goTo(state.offset + PAGE_SIZE < state.total ? state.offset + PAGE_SIZE : state.offset),
  );

  readUrl();
  load();
  return { form, showError };
}
