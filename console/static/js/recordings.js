// Recordings: jump to a date and time in the station's zone, timeline per camera, several cameras played
// side by side in sync. Every playback opens an audited view (reason or complaint number for older footage).
import { api } from "/static/js/api.js";
import { SegmentPlayer, SyncGroup } from "/static/js/segmentplayer.js";
import { formatStation, labels, stationToUtc, utcToStationInput } from "/static/js/stationtime.js";
import { renderTimeline } from "/static/js/timelinebar.js";

const root = document.getElementById("recordings");
const zone = root.dataset.timezone;
const lang = root.dataset.lang;
const L = labels();
const fmt = (value) => formatStation(value, zone, lang, true);
let group = null;
let bars = [];
let origin = 0;

function showError(error) {
  document.getElementById("recordings-error").textContent = error ? error.message : "";
}

async function show(event) {
  if (event) event.preventDefault();
  showError(null);
  const form = document.getElementById("jump");
  const cameras = [...form.querySelectorAll('input[name="camera"]:checked')].map((i) => i.value).slice(0, 4);
  const start = stationToUtc(form.start.value, zone);
  const end = new Date(start.getTime() + Number(form.length.value) * 1000);
  origin = start.getTime();
  if (group) group.stop();
  const container = document.getElementById("players");
  container.replaceChildren();
  container.style.setProperty("--columns", String(Math.min(cameras.length, 2) || 1));
  const players = [];
  bars = [];
  for (const camera of cameras) {
    const tile = document.createElement("article");
    tile.className = "player";
    tile.dataset.testid = `player-${camera}`;
    const title = document.createElement("header");
    title.textContent = camera;
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    const bar = document.createElement("div");
    tile.append(title, video, bar);
    container.append(tile);
    const range = { camera, start: start.toISOString(), end: end.toISOString() };
    try {
      const timeline = await api(`/api/recordings/timeline?${new URLSearchParams(range)}`);
      bars.push(renderTimeline(bar, timeline, {
        onSeek: (s) => group && group.seek(s), gapLabel: L.text.gap, recordedLabel: L.text.recorded, format: fmt,
      }));
      const body = { ...range };
      if (form.reason.value.trim()) body.reason = form.reason.value.trim();
      if (form.complaint.value.trim()) body.complaint = form.complaint.value.trim();
      const view = await api("/api/recordings/views", { method: "POST", body });
      const player = new SegmentPlayer(video, view);
      if (await player.open()) players.push(player); else title.textContent = `${camera}: ${L.text.no_footage}`;
    } catch (e) {
      showError(e);
      title.textContent = `${camera}: ${e.message}`;
    }
  }
  group = new SyncGroup(players);
  if (players.length) {
    const firstStart = Math.min(...players.map((p) => (p.segments[0] ? p.segments[0].t0 : 0)));
    group.seek(firstStart);
    players[0].video.addEventListener("timeupdate", () => {
      const t = players[0].video.currentTime;
      bars.forEach((b) => b.setPosition(t));
      document.getElementById("position").textContent = fmt(new Date(origin + t * 1000));
    });
  }
  const url = new URL(window.location.href);
  url.searchParams.set("start", form.start.value);
  url.searchParams.set("cameras", cameras.join(","));
  window.history.replaceState(null, "", url);
}

function start() {
  const form = document.getElementById("jump");
  const params = new URLSearchParams(window.location.search);
  form.start.value = params.get("start") || utcToStationInput(new Date(Date.now() - 3600000), zone);
  if (params.get("cameras")) {
    const wanted = params.get("cameras").split(",");
    form.querySelectorAll('input[name="camera"]').forEach((i) => { i.checked = wanted.includes(i.value); });
  }
  if (params.get("complaint")) form.complaint.value = params.get("complaint");
  form.addEventListener("submit", show);
  document.getElementById("play").addEventListener("click", () => group && group.toggle());
  if (params.get("start")) show();
}

start();
