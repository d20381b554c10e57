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
let generation = 0; // a newer show() supersedes one still loading (double click, overview click)

function showError(error) {
  document.getElementById("recordings-error").textContent = error ? error.message : "";
}

async function show(event) {
  if (event) event.preventDefault();
  const mine = ++generation;
  const stale = () => mine !== generation;
  showError(null);
  const form = document.getElementById("jump");
  const cameras = [...form.querySelectorAll('input[name="camera"]:checked')].map((i) => i.value).slice(0, 4);
  const start = stationToUtc(form.start.value, zone);
  const end = new Date(start.getTime() + Number(form.length.value) * 1000);
  // longer than a playback view may span: timelines only; a click opens the hour around that moment
  const overview = Boolean(form.length.selectedOptions[0] && form.length.selectedOptions[0].dataset.overview);
  document.getElementById("overview-hint").hidden = !overview;
  origin = start.getTime();
  // the clock shows the new range from the start, not where the previous search was playing
  document.getElementById("position").textContent = fmt(start);
  if (group) { group.stop(); group.players.forEach((p) => p.video.pause()); }
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
    video.hidden = overview;
    const note = document.createElement("p"); // over the picture: a clicked moment has no footage
    note.className = "tile-note";
    note.dataset.testid = `note-${camera}`;
    note.textContent = L.text.no_footage_here;
    note.hidden = true;
    const screen = document.createElement("div");
    screen.className = "screen";
    screen.hidden = overview;
    screen.append(video, note);
    const bar = document.createElement("div");
    bar.dataset.testid = `timeline-${camera}`;
    tile.append(title, screen, bar);
    container.append(tile);
    const range = { camera, start: start.toISOString(), end: end.toISOString() };
    const options = { gapLabel: L.text.gap, recordedLabel: L.text.recorded, format: fmt };
    try {
      const timeline = await api(`/api/recordings/timeline?${new URLSearchParams(range)}`);
      if (stale()) return;
      if (overview) {
        renderTimeline(bar, timeline, { ...options, onSeek: (s) => openHour(new Date(start.getTime() + s * 1000)) });
        continue;
      }
      const body = { ...range };
      if (form.reason.value.trim()) body.reason = form.reason.value.trim();
      if (form.complaint.value.trim()) body.complaint = form.complaint.value.trim();
      const view = await api("/api/recordings/views", { method: "POST", body });
      if (stale()) return;
      bars.push(renderTimeline(bar, timeline, {
        ...options, onSeek: seekTo, preview: (s) => thumbnailAt(view, start.getTime() + s * 1000, (end - start) / 200),
      }));
      const player = new SegmentPlayer(video, view);
      player.note = note;
      const opened = await player.open();
      if (stale()) return;
      if (opened) players.push(player); else title.textContent = `${camera}: ${L.text.no_footage}`;
    } catch (e) {
      if (stale()) return;
      showError(e);
      title.textContent = `${camera}: ${e.message}`;
    }
  }
  group = new SyncGroup(players);
  if (players.length) {
    const firstStart = Math.min(...players.map((p) => (p.segments[0] ? p.segments[0].t0 : 0)));
    group.seek(firstStart);
    document.getElementById("position").textContent = fmt(new Date(origin + firstStart * 1000));
    for (const player of players) {
      // the note goes once the player shows footage again (a click on a recorded span, a skipped gap)
      player.video.addEventListener("timeupdate", () => { if (hasFootage(player, player.video.currentTime)) player.note.hidden = true; });
    }
    players[0].video.addEventListener("timeupdate", () => {
      if (stale()) return; // a player of an earlier search (its last timeupdate comes after a new one began)
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

// whether a player has a recorded segment at this position (seconds from the range start)
function hasFootage(player, seconds) {
  return player.segments.some((s) => s.t0 <= seconds && seconds < s.t1);
}

// a click on a bar: every player goes there; a tile with nothing recorded then says so (not a black picture)
function seekTo(seconds) {
  if (!group) return;
  group.seek(seconds);
  for (const player of group.players) player.note.hidden = hasFootage(player, seconds);
  document.getElementById("position").textContent = fmt(new Date(origin + seconds * 1000));
}

// the keyframe thumbnail of the view's segment that holds this instant (ms since the epoch), or of the
// nearest one within `slack` ms (a pixel of a long bar is seconds: the pointer need not hit a short segment)
function thumbnailAt(view, at, slack = 0) {
  let best = null;
  let distance = Infinity;
  for (const s of view.segments) {
    const a = new Date(s.start).getTime();
    const b = new Date(s.end).getTime();
    const d = at < a ? a - at : at >= b ? at - b : 0;
    if (d < distance) { best = s; distance = d; }
  }
  return best && distance <= slack ? best.thumbnail_url : null;
}

// from an overview: the hour around the clicked moment (a pixel of a days-long bar is minutes), played
function openHour(moment) {
  const form = document.getElementById("jump");
  form.start.value = utcToStationInput(new Date(moment.getTime() - 30 * 60000), zone);
  form.length.value = "3600";
  show();
}

// a signed package of the chosen cameras over the shown range (stream copy, cut at keyframes), downloaded
async function exportRange() {
  showError(null);
  const form = document.getElementById("jump");
  const status = document.getElementById("export-status");
  const cameras = [...form.querySelectorAll('input[name="camera"]:checked')].map((i) => i.value);
  const start = stationToUtc(form.start.value, zone);
  const end = new Date(Math.min(start.getTime() + Number(form.length.value) * 1000, Date.now()));
  const body = { cameras, start: start.toISOString(), end: end.toISOString() };
  if (form.reason.value.trim()) body.reason = form.reason.value.trim();
  if (form.complaint.value.trim()) body.complaint = form.complaint.value.trim();
  status.textContent = L.text.loading;
  try {
    const result = await api("/api/exports", { method: "POST", body });
    status.textContent = "";
    window.location.assign(result.download_url);
  } catch (e) {
    status.textContent = "";
    showError(e);
  }
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
  const exportButton = document.getElementById("export-range");
  if (exportButton) exportButton.addEventListener("click", exportRange);
  if (params.get("start")) show();
}

start();
