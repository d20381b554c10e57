// Upload an evidence package to POST /api/evidence/verify and show exactly what matched and what did not.
import { csrfToken, errorMessage, pageLanguage, pageText } from "/static/js/api.js";

const form = document.getElementById("verify-form");
const result = document.getElementById("verify-result");

function line(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = cls;
  return li;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  data.set("against_station_key", form.elements.against_station_key.checked ? "true" : "false");
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
  const list = document.createElement("ul");
  if (!response.ok) {
    result.classList.add("invalid");
    head.textContent = `${result.dataset.failed} ${errorMessage(response, body)}`;
  } else {
    result.classList.add(body.valid ? "valid" : "invalid");
    head.textContent = body.valid ? result.dataset.valid : result.dataset.invalid;
    body.errors.forEach((text) => list.append(line(text, "fail")));
    body.warnings.forEach((text) => list.append(line(text, "warn")));
    body.passed.forEach((text) => list.append(line(text, "ok")));
  }
  result.append(head, list);
});
