// Station time <-> UTC for pages: inputs take the station's local time (e.g. Asia/Almaty) whatever the
// browser's own zone is; the API always gets aware ISO 8601 UTC.

function partsAt(ms, zone) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const values = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return values;
}

function offsetAt(ms, zone) {
  const v = partsAt(ms, zone);
  const asUtc = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

// "YYYY-MM-DDTHH:MM[:SS]" in the station zone -> Date (UTC instant)
export function stationToUtc(value, zone) {
  const [date, time = "00:00"] = value.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm, ss = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm, Math.floor(ss));
  let guess = wall;
  for (let i = 0; i < 3; i += 1) {
    guess = wall - offsetAt(guess, zone);
  }
  return new Date(guess);
}

// Date -> "YYYY-MM-DDTHH:MM" in the station zone (for datetime-local inputs)
export function utcToStationInput(date, zone) {
  const v = partsAt(date.getTime(), zone);
  return `${v.year}-${v.month}-${v.day}T${v.hour}:${v.minute}`;
}

export function formatStation(value, zone, lang, withSeconds = false) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  const locale = lang === "kk" ? "kk-KZ" : lang === "en" ? "en-GB" : "ru-RU";
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined, hour12: false,
  }).format(date);
}

export function labels() {
  const element = document.getElementById("labels");
  return element ? JSON.parse(element.textContent) : {};
}

// The time of day only ("HH:MM:SS") in the station zone.
export function formatStationClock(value, zone, lang) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  const locale = lang === "kk" ? "kk-KZ" : lang === "en" ? "en-GB" : "ru-RU";
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(date);
}

// Whether two instants fall on the same day in the station zone.
export function sameStationDay(a, b, zone) {
  return utcToStationInput(new Date(a), zone).slice(0, 10) === utcToStationInput(new Date(b), zone).slice(0, 10);
}
