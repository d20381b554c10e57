// Recordings: jump to a date and time in the station's zone, timeline per camera, several cameras played
// side by side in sync. Every playback opens an audited view (reason or complaint number for older footage).
// The player: speed for every tile, ±10 s, frame steps while paused, digital zoom per tile, keyboard
// shortcuts, and a still of a tile's frame attached to a complaint (extracted and hashed on the station).
// URL parameters: start (station time, minutes), length (s), cameras, complaint; at (ISO instant to open at,
// the range chosen around it), play=1, mark_start/mark_end (ISO: a window drawn on every timeline).
import { api } from "/static/js/api.js";
import { Zoom } from "/static/js/playerzoom.js";
import { SegmentPlayer, SyncGroup } from "/static/js/segmentplayer.js";
import { formatStation, labels, stationToUtc, utcToStationInput } from "/static/js/stationtime.js";
import { renderTimeline } from "/static/js/timelinebar.js";

const root = document.getElementById("recordings");
const zone = root.dataset.timezone;
const lang = root.dataset.lang;
const canAttach = root.dataset.canAttach === "true";
const L = labels();
const P = JSON.parse(document.getElementById("player-labels").textContent);
const fmt = (value) => formatStation(value, zone, lang, true);
const fill = (text, values) => text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
const SPEEDS = [0.5, 1, 1.5, 2, 4, 8];
const DEFAULT_FRAME_S = 1 / 25;
const JUMP_S = 10;
let group = null;
let bars = [];
let zooms = [];
let origin = 0;
let rangeS = 0;
let rate = 1;
let frameS = DEFAULT_FRAME_S; // measured while playing (requestVideoFrameCallback), the default until then
let marks = []; // windows drawn on the timelines (a complaint's incident window)
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
  rangeS = (end - start) / 1000;
  // the clock shows the new range from the start, not where the previous search was playing
  document.getElementById("position").textContent = fmt(start);
  if (group) { group.stop(); group.players.forEach((p) => p.video.pause()); }
  const container = document.getElementById("players");
  container.replaceChildren();
  container.style.setProperty("--columns", String(Math.min(cameras.length, 2) || 1));
  const players = [];
  bars = [];
  zooms = [];
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
    const options = { gapLabel: L.text.gap, recordedLabel: L.text.recorded, format: fmt, marks };
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
      if (opened) {
        players.push(player);
        zooms.push(new Zoom(screen, video));
        screen.title = P.zoom_hint;
        if (canAttach) title.append(stillButton(player, camera));
      } else title.textContent = `${camera}: ${L.text.no_footage}`;
    } catch (e) {
      if (stale()) return;
      showError(e);
      title.textContent = `${camera}: ${e.message}`;
    }
  }
  group = new SyncGroup(players, rate);
  if (players.length) {
    watchFrames(players[0].video);
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
  url.searchParams.set("length", form.length.value);
  url.searchParams.delete("at"); // opened there once; a reload opens the range from its start
  url.searchParams.delete("play");
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

// --- the player's controls ---------------------------------------------------------------------------

const position = () => (group && group.master ? group.master.video.currentTime : 0);

// ±seconds on every tile, playing or paused, within the shown range
function jump(seconds) {
  if (!group || !group.master) return;
  seekTo(Math.min(Math.max(position() + seconds, 0), Math.max(rangeS - 0.05, 0)));
}

// one frame forward or back; stepping pauses playback (a frame is only seen still)
function stepFrame(direction) {
  if (!group || !group.master) return;
  group.pause();
  seekTo(Math.min(Math.max(position() + direction * frameS, 0), Math.max(rangeS - 0.05, 0)));
}

function setSpeed(value) {
  rate = SPEEDS.includes(value) ? value : 1;
  document.getElementById("speed").value = String(rate);
  if (group) group.setRate(rate);
}

function changeSpeed(direction) {
  const index = SPEEDS.indexOf(rate);
  setSpeed(SPEEDS[Math.min(Math.max(index + direction, 0), SPEEDS.length - 1)]);
}

// The frame duration of the footage: the median gap between consecutive presented frames at normal speed
// or slower (faster playback drops frames), so a frame step is one frame of this camera, not a guess.
function watchFrames(video) {
  if (!video.requestVideoFrameCallback) return;
  const gaps = [];
  let last = null;
  const onFrame = (now, meta) => {
    if (last && meta.presentedFrames === last.presentedFrames + 1 && video.playbackRate <= 1) {
      const gap = meta.mediaTime - last.mediaTime;
      if (gap > 1 / 240 && gap < 0.5) {
        gaps.push(gap);
        if (gaps.length > 31) gaps.shift();
        const sorted = [...gaps].sort((a, b) => a - b);
        if (gaps.length >= 5) frameS = sorted[Math.floor(sorted.length / 2)];
      }
    }
    last = meta;
    if (video.isConnected) video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

// A still of this tile's frame at the shown moment, attached to the complaint whose number is in the form:
// the station decodes the frame from the recording and answers with its SHA-256.
function stillButton(player, camera) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn";
  button.dataset.testid = `still-${camera}`;
  button.textContent = P.still;
  button.title = P.still_hint;
  button.addEventListener("click", () => attachStill(player, camera));
  return button;
}

// "…T12:00:05.123456Z" plus seconds, to the microsecond (a JS Date keeps milliseconds only)
function addSeconds(iso, seconds) {
  const fraction = /\.(\d+)/.exec(iso);
  const wholeMs = Date.parse(iso.replace(/\.\d+/, ""));
  const us = wholeMs * 1000 + (fraction ? Number((fraction[1] + "000000").slice(0, 6)) : 0) + Math.round(seconds * 1e6);
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().replace("Z", `${String(us - ms * 1000).padStart(3, "0")}Z`);
}

// The instant of the frame on screen, to the microsecond: counted from the start of the segment file under
// the play position (where the player put that file), so the station decodes exactly the frame shown.
function instantOnScreen(player) {
  const t = player.video.currentTime;
  const segment = player.segments.find((s) => s.t0 <= t && t < s.t1);
  return segment ? addSeconds(segment.start, t - segment.t0) : addSeconds(player.view.start, t);
}

async function attachStill(player, camera) {
  showError(null);
  const status = document.getElementById("still-status");
  status.replaceChildren();
  const form = document.getElementById("jump");
  const number = form.complaint.value.trim();
  if (!number) {
    showError({ message: P.still_needs_complaint });
    form.complaint.focus();
    return;
  }
  const at = instantOnScreen(player);
  try {
    const found = await api(`/api/complaints?${new URLSearchParams({ q: number, limit: "10" })}`);
    const complaint = found.items.find((c) => c.number === number);
    if (!complaint) { showError({ message: fill(P.complaint_unknown, { number }) }); return; }
    const still = await api(`/api/complaints/${complaint.id}/stills`, {
      method: "POST", body: { camera_id: camera, at },
    });
    const link = document.createElement("a");
    link.href = `/complaints/${complaint.id}`;
    link.textContent = P.open_complaint;
    status.append(fill(P.still_attached, { camera, time: fmt(still.frame_at), number, sha256: still.sha256 }), " ", link);
  } catch (e) {
    showError(e);
  }
}

const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);

// Space play/pause, ← → ±10 s, "," "." a frame, + − speed, z zoom reset (not while typing in the form)
function onKey(event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (TYPING.has(target.tagName) || target.isContentEditable) return;
  const actions = {
    " ": () => group && group.toggle(),
    ArrowLeft: () => jump(-JUMP_S),
    ArrowRight: () => jump(JUMP_S),
    ",": () => stepFrame(-1),
    ".": () => stepFrame(1),
    "+": () => changeSpeed(1),
    "=": () => changeSpeed(1),
    "-": () => changeSpeed(-1),
    z: () => zooms.forEach((z) => z.reset()),
    Z: () => zooms.forEach((z) => z.reset()),
  };
  const action = actions[event.key];
  if (!action || (event.key === " " && target.tagName === "BUTTON")) return; // a focused button's own space
  event.preventDefault();
  action();
}

function bindControls() {
  document.getElementById("play").addEventListener("click", () => group && group.toggle());
  document.getElementById("back10").addEventListener("click", () => jump(-JUMP_S));
  document.getElementById("forward10").addEventListener("click", () => jump(JUMP_S));
  document.getElementById("frame-back").addEventListener("click", () => stepFrame(-1));
  document.getElementById("frame-forward").addEventListener("click", () => stepFrame(1));
  document.getElementById("speed").addEventListener("change", (e) => setSpeed(Number(e.target.value)));
  document.getElementById("zoom-in").addEventListener("click", () => zooms.forEach((z) => z.zoomBy(1.25)));
  document.getElementById("zoom-out").addEventListener("click", () => zooms.forEach((z) => z.zoomBy(1 / 1.25)));
  document.getElementById("zoom-reset").addEventListener("click", () => zooms.forEach((z) => z.reset()));
  document.addEventListener("keydown", onKey);
}

// --- opening at an instant (live wall "replay", a complaint's incident window) ---------------------------

function instant(value) {
  const date = value ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

// the range around an instant and a marked window: from two minutes before (on a whole minute) for the
// shortest length of the form that reaches two minutes after
function rangeAround(at, markStart, markEnd) {
  const first = Math.min(at.getTime(), markStart ? markStart.getTime() : Infinity) - 120000;
  const last = Math.max(at.getTime(), markEnd ? markEnd.getTime() : -Infinity) + 120000;
  const start = new Date(Math.floor(first / 60000) * 60000);
  const lengths = [...document.querySelectorAll('#jump select[name="length"] option:not([data-overview])')].map((o) => Number(o.value));
  const length = lengths.find((l) => start.getTime() + l * 1000 >= last) || lengths[lengths.length - 1];
  return { start, length };
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

async function start() {
  const form = document.getElementById("jump");
  const params = new URLSearchParams(window.location.search);
  const at = instant(params.get("at"));
  const markStart = instant(params.get("mark_start"));
  const markEnd = instant(params.get("mark_end"));
  if (markStart && markEnd && markEnd > markStart) marks = [{ start: markStart.toISOString(), end: markEnd.toISOString(), title: P.incident }];
  form.start.value = params.get("start") || utcToStationInput(new Date(Date.now() - 3600000), zone);
  if (params.get("length") && form.length.querySelector(`option[value="${CSS.escape(params.get("length"))}"]`)) form.length.value = params.get("length");
  if (at && !params.get("start")) {
    const range = rangeAround(at, markStart, markEnd);
    form.start.value = utcToStationInput(range.start, zone);
    form.length.value = String(range.length);
  }
  if (params.get("cameras")) {
    const wanted = params.get("cameras").split(",");
    form.querySelectorAll('input[name="camera"]').forEach((i) => { i.checked = wanted.includes(i.value); });
  }
  if (params.get("complaint")) form.complaint.value = params.get("complaint");
  form.addEventListener("submit", show);
  bindControls();
  const exportButton = document.getElementById("export-range");
  if (exportButton) exportButton.addEventListener("click", exportRange);
  if (!params.get("start") && !at) return;
  await show();
  if (at && group && group.master) {
    seekTo(Math.min(Math.max((at.getTime() - origin) / 1000, 0), rangeS));
    if (params.get("play") === "1") group.play();
  }
}

start().catch((e) => showError(e));
