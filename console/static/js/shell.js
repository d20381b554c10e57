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

document.querySelectorAll(".clock[data-timezone]").forEach(startClock);
document.querySelectorAll("select[data-auto-submit]").forEach(autoSubmit);
