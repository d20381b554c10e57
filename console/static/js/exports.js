// The exports list: who built which evidence package and when, its fingerprint, "download again".
//
// The rows come from GET /api/exports (newest first) with the filters of the form, kept in the page's
// URL (station time for the period, sent to the API as UTC). "Download again" is a plain link to
// GET /api/exports/{id}/download, which records the download in the audit log and names the file after
// the complaint the package is filed under.

import { cell, format, listPage } from "./listpage.js";
import { formatStation } from "./stationtime.js";

const config = JSON.parse(document.getElementById("exports-config").textContent);
const S = config.strings;
const zone = config.timezone;
const lang = config.lang;

// --- the table --------------------------------------------------------------------------------------

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
  tr.append(
    cell(formatStation(item.created_at, zone, lang, true), "exports-time"),
    cell(item.created_by, "nowrap"),
    cell(item.complaint_number, "nowrap"),
    cell(clipsText(item), "exports-clips pre-line"),
    statusCell(item),
    cell(size(item.bytes), "nowrap"),
    cell(fingerprint(item.sha256), "fingerprint"),
    downloadCell(item),
  );
  return tr;
}

// --- wiring -----------------------------------------------------------------------------------------

const { form } = listPage({
  prefix: "exports",
  endpoint: "/api/exports",
  filters: ["scope", "complaint", "from", "to"],
  strings: S,
  zone,
  query(params, form) {
    params.set("scope", form.elements.scope.value || config.defaultScope);
    const complaint = form.elements.complaint.value.trim();
    if (complaint) params.set("complaint", complaint);
  },
  row,
  onRead(form) {
    const scope = form.elements.scope;
    if (scope && !scope.value) scope.value = config.defaultScope;
  },
  onReset(form) {
    const scope = form.elements.scope;
    if (scope && scope.type !== "hidden") scope.value = config.defaultScope;
  },
});
if (form.elements.scope && form.elements.scope.type !== "hidden") {
  form.elements.scope.addEventListener("change", () => form.requestSubmit());
}
