// Upload an evidence package to POST /api/evidence/verify and show the verdict, what the package says (its
// summary, times in station time) and every check, translated by the server. Everything from the package
// is set as text (textContent), never as markup.
import { csrfToken, errorMessage, pageLanguage, pageText } from "./api.js";
import { formatStation } from "./stationtime.js";

const form = document.getElementById("verify-form");
const result = document.getElementById("verify-result");
const VERDICTS = {
  valid: { cls: "valid", text: "valid" },
  signer_unknown: { cls: "signer-unknown", text: "signerUnknown" },
  invalid: { cls: "invalid", text: "invalid" },
};
const LEVEL_CLASSES = { error: "fail", warning: "warn", passed: "ok" };

function line(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = cls;
  return li;
}

function heading(text) {
  const h3 = document.createElement("h3");
  h3.textContent = text;
  return h3;
}

// A time from the package in station time; the raw text when it is not a time.
function stationTime(value) {
  const text = result.dataset.summaryNone;
  if (!value) return text;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return formatStation(date, result.dataset.timezone, pageLanguage(), true);
}

function orNone(value) {
  return value === null || value === undefined || value === "" ? result.dataset.summaryNone : String(value);
}

function summaryRows(summary) {
  const labels = result.dataset;
  const key = summary.key_fingerprint
    ? `${summary.key_fingerprint} (${summary.station_key ? labels.summaryKeyStation : labels.summaryKeyOther})`
    : labels.summaryNone;
  const rows = [
    ["station", labels.summaryStation, orNone(summary.station_name)],
    ["key", labels.summaryKey, key],
    ["exported-by", labels.summaryExportedBy, orNone(summary.exported_by)],
    ["exported-at", labels.summaryExportedAt, stationTime(summary.exported_at_utc)],
    ["complaint", labels.summaryComplaint, orNone(summary.complaint_number)],
  ];
  summary.cameras.forEach((camera) => {
    const name = camera.camera_name ? ` (${camera.camera_name})` : "";
    const range = `${stationTime(camera.start_utc)} – ${stationTime(camera.end_utc)}`;
    rows.push(["camera", labels.summaryCamera, `${orNone(camera.camera_id)}${name}: ${range}`]);
  });
  if (summary.clip_count > summary.cameras.length) {
    rows.push(["more-clips", labels.summaryMoreClips, String(summary.clip_count - summary.cameras.length)]);
  }
  rows.push(["files", labels.summaryFiles, String(summary.file_count)]);
  rows.push(["size", labels.summarySize, new Intl.NumberFormat(pageLanguage() || undefined).format(summary.total_bytes)]);
  return rows;
}

function summaryList(summary) {
  const list = document.createElement("dl");
  list.className = "verify-summary";
  summaryRows(summary).forEach(([field, label, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    dd.dataset.field = field;
    list.append(dt, dd);
  });
  return list;
}

function findingList(findings) {
  const list = document.createElement("ul");
  list.className = "verify-findings";
  findings.forEach((finding) => {
    const item = line(finding.text, LEVEL_CLASSES[finding.level] || "fail");
    item.dataset.code = finding.code;
    list.append(item);
  });
  return list;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  result.hidden = false;
  result.className = "verify-result";
  result.textContent = "…";
  let response;
  try {
    response = await fetch("/api/evidence/verify", {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json", "Accept-Language": pageLanguage() },
    });
  } catch (error) {
    console.warn("verify: upload failed", error);
    result.classList.add("invalid");
    result.textContent = `${result.dataset.failed} ${pageText("offline")}`;
    return;
  }
  const body = await response.json().catch(() => null);
  result.textContent = "";
  const head = document.createElement("strong");
  if (!response.ok || !body) {
    result.classList.add("invalid");
    head.textContent = `${result.dataset.failed} ${errorMessage(response, body)}`;
    result.append(head);
    return;
  }
  const verdict = VERDICTS[body.verdict] || VERDICTS.invalid;
  result.classList.add(verdict.cls);
  head.textContent = result.dataset[verdict.text];
  result.append(head);
  if (body.summary) {
    result.append(heading(result.dataset.summaryTitle), summaryList(body.summary));
  }
  result.append(heading(result.dataset.findingsTitle), findingList(body.findings));
});
