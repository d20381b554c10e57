// The notification bell of the wall and overview (templates/notifications.html): polls /api/notifications,
// shows their count on the bell and the translated messages with links in its panel, and beeps when a new one
// appears, if the user turned the sound on (sound.js: one setting and one beep shared with the live wall).
import { api, pageLanguage } from "./api.js";
import { announce, bindSoundToggle, forget, remember } from "./sound.js";
import { formatStation } from "./stationtime.js";

const LEVELS = ["alarm", "warning", "info"];

const root = document.getElementById("notify");

// What a notification announces, in the words the wall uses too (sound.js): the pending-events notification
// names the newest event, which the wall may have announced already.
function thingOf(key) {
  return key.startsWith("events_pending:") ? `event:${key.slice("events_pending:".length)}` : `notification:${key}`;
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
  let shown = null; // what the previous poll showed; null before the first one
  let timer = null;

  bindSoundToggle(sound);
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
    const things = items.map((item) => thingOf(item.key));
    if (shown === null) remember(things); // what is there when the page opens is not new
    else announce(things);
    if (shown !== null) forget([...shown].filter((thing) => !things.includes(thing))); // cleared: new if it returns
    shown = new Set(things);
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
