// The audit-log viewer: the auditor's filtered list of the hash-chained log.
//
// The rows come from GET /api/audit (newest first) with the filters of the form, which are kept in the
// page's URL (station time for the period, sent to the API as UTC). "Verify chain" calls GET
// /api/audit/verify and shows whether the chain is intact or the first broken row; the CSV link always
// carries the current filters (GET /api/audit.csv). Every view, verification and export is itself audited
// by the server.

import { api } from "./api.js";
import { cell, format, listPage } from "./listpage.js";
import { formatStation } from "./stationtime.js";

const config = JSON.parse(document.getElementById("audit-config").textContent);
const S = config.strings;
const zone = config.timezone;
const lang = config.lang;

const verdict = document.getElementById("audit-verdict");
const csvLink = document.getElementById("audit-csv");
const verifyButton = document.getElementById("audit-verify");

// --- the table --------------------------------------------------------------------------------------

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

const { form, showError } = listPage({
  prefix: "audit",
  endpoint: "/api/audit",
  filters: ["user", "action", "resource_type", "resource_id", "allowed", "from", "to"],
  strings: S,
  zone,
  query(params, form) {
    for (const name of ["user", "action", "resource_type", "resource_id", "allowed"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
  },
  row,
  // the CSV link always carries the current filters
  onQuery(params) {
    csvLink.href = `/api/audit.csv${params.toString() ? `?${params}` : ""}`;
  },
});
form.elements.allowed.addEventListener("change", () => form.requestSubmit());
verifyButton.addEventListener("click", verifyChain);
