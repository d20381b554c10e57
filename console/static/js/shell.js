// The page frame: station clock in the station's time zone, language switcher.

function startClock(element) {
  const zone = element.dataset.timezone;
  const lang = element.dataset.lang === "kk" ? "kk-KZ" : element.dataset.lang === "en" ? "en-GB" : "ru-RU";
  let format;
  try {
    format = new Intl.DateTimeFormat(lang, {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    });
  } catch (error) {
    console.warn("clock: unknown time zone", zone, error);
    return;
  }
  const tick = () => { element.textContent = format.format(new Date()); };
  tick();
  window.setInterval(tick, 1000);
}

function autoSubmit(select) {
  select.addEventListener("change", () => select.form.submit());
}

// A picture that cannot load is removed (the Content-Security-Policy allows no inline onerror handler).
function dropWhenBroken(image) {
  if (image.complete && image.naturalWidth === 0 && image.getAttribute("src")) image.remove();
  else image.addEventListener("error", () => image.remove());
}

// Forms driven by script never submit on their own (no inline onsubmit under the CSP).
function keepFromSubmitting(form) {
  form.addEventListener("submit", (event) => event.preventDefault());
}

document.querySelectorAll(".clock[data-timezone]").forEach(startClock);
document.querySelectorAll("img[data-drop-broken]").forEach(dropWhenBroken);
document.querySelectorAll("form[data-no-submit]").forEach(keepFromSubmitting);
document.querySelectorAll("select[data-auto-submit]").forEach(autoSubmit);
