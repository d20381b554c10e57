// Upload an evidence package to POST /api/evidence/verify and show exactly what matched and what did not.
// The verdict is one of valid / signer_unknown / invalid; everything from the package is set as text
// (textContent), never as markup.
import { csrfToken, errorMessage, pageLanguage, pageText } from "/static/js/api.js";

const form = document.getElementById("verify-form");
const result = document.getElementById("verify-result");
const VERDICTS = {
  valid: { cls: "valid", text: "valid" },
  signer_unknown: { cls: "signer-unknown", text: "signerUnknown" },
  invalid: { cls: "invalid", text: "invalid" },
};

function line(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = cls;
  return li;
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
  const list = document.createElement("ul");
  if (!response.ok) {
    result.classList.add("invalid");
    head.textContent = `${result.dataset.failed} ${errorMessage(response, body)}`;
  } else {
    const verdict = VERDICTS[body.verdict] || VERDICTS.invalid;
    result.classList.add(verdict.cls);
    head.textContent = result.dataset[verdict.text];
    if (body.package_key_fingerprint) {
      const signer = `${result.dataset.signer} ${body.package_key_fingerprint}`;
      list.append(line(signer, body.signer_trusted ? "ok" : "warn"));
    }
    if (body.station !== null) list.append(line(`${result.dataset.station} ${body.station}`, "info"));
    body.errors.forEach((text) => list.append(line(text, "fail")));
    body.warnings.forEach((text) => list.append(line(text, "warn")));
    body.passed.forEach((text) => list.append(line(text, "ok")));
  }
  result.append(head, list);
});
