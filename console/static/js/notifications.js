// The notification bell of the wall and overview (templates/notifications.html): polls /api/notifications,
// shows their count on the bell and the translated messages with links in its panel, and beeps (WebAudio,
// no sound file) when a new one appears, if the user turned the sound on (remembered in localStorage).
import { api, pageLanguage } from "./api.js";
import { formatStation } from "./stationtime.js";

const SOUND_KEY = "station.notifications.sound";
const LEVELS = ["alarm", "warning", "info"];

const root = document.getElementById("notify");

function soundOn() {
  try {
    return window.localStorage.getItem(SOUND_KEY) === "on";
  } catch (error) {
    return false;
  }
}

function setSound(on) {
  try {
    window.localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  } catch (error) {
    console.warn("notifications: cannot remember the sound choice", error);
  }
}

let audio = null;

function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  audio = audio || new Context();
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start();
  oscillator.stop(audio.currentTime + 0.4);
}

function itemNode(item, zone) {
  const li = document.createElement("li");
  li.className = `level-${item.level}`;
  li.dataset.kind = item.kind;
  li.dataset.key = item.key;
  const body = document.createElement(item.link ? "a" : "div");
  if (item.link) body.href = item.link;
  body.textContent = item.message;
  if (item.detail) {
    const detail = document.createElement("small");
    detail.textContent = item.detail;
    body.append(detail);
  }
  if (item.since) {
    const since = document.createElement("small");
    since.textContent = formatStation(item.since, zone, pageLanguage());
    body.append(since);
  }
  li.append(body);
  return li;
}

function start() {
  const bell = root.querySelector(".notify-bell");
  const panel = root.querySelector(".notify-panel");
  const count = root.querySelector(".notify-count");
  const list = root.querySelector(".notify-list");
  const empty = root.querySelector(".notify-empty");
  const error = root.querySelector(".notify-error");
  const sound = root.querySelector("#notify-sound");
  const clock = document.querySelector(".clock");
  const zone = (clock && clock.dataset.timezone) || "UTC";
  const intervalMs = Math.max(2, Number(root.dataset.intervalS) || 10) * 1000;
  let known = null; // keys shown after the previous poll; null before the first one
  let timer = null;

  sound.checked = soundOn();
  sound.addEventListener("change", () => {
    setSound(sound.checked);
    if (sound.checked) beep(); // a click is the user gesture the browser wants before audio plays
  });
  bell.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    bell.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      panel.hidden = true;
      bell.setAttribute("aria-expanded", "false");
      bell.focus();
    }
  });

  function show(items) {
    list.replaceChildren(...items.map((item) => itemNode(item, zone)));
    empty.hidden = items.length > 0;
    count.hidden = items.length === 0;
    count.textContent = String(items.length);
    const level = LEVELS.find((l) => items.some((item) => item.level === l));
    if (level) root.dataset.level = level;
    else delete root.dataset.level;
    const keys = new Set(items.map((item) => item.key));
    const fresh = known !== null && [...keys].some((key) => !known.has(key));
    known = keys;
    if (fresh && soundOn()) beep();
  }

  async function poll() {
    timer = null;
    if (!document.hidden) {
      try {
        const answer = await api("/api/notifications");
        error.textContent = "";
        show(answer.items);
      } catch (failure) {
        error.textContent = failure.message;
      }
    }
    timer = setTimeout(poll, intervalMs);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      poll();
    }
  });
  poll();
}

if (root) start();
