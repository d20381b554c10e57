// The camera wall: a grid of live tiles (WebRTC, H.264 passthrough from the station) and a full-screen view.
//
// Each visible tile runs one RTCPeerConnection against POST /api/live/offer (sub-stream where the camera has
// one); the full-screen view asks for the main stream. A tile streams only while it is on screen
// (IntersectionObserver) and the tab is visible (visibilitychange); otherwise its peer connection is closed
// and the station releases the viewer. Camera status comes from GET /api/live/cameras every few seconds; a
// camera that comes back resumes on the same connection, and a broken connection is rebuilt with back-off,
// all without reloading the page. Leaving the page tells the station with a beacon.
//
// Detection events: the page follows GET /api/events/stream (server-sent events, "active": the events going
// on) and marks the tile of every camera with one (a frame and a badge with the kind) until it ends; with
// "Sound on new events" ticked (off by default) a short beep announces each new one. The checkbox is the same
// setting as the notification panel's "Sound" (sound.js: one setting, one beep per new thing on the page).

import { api, ApiError, csrfToken } from "./api.js";
import { announce, beepCount, bindSoundToggle } from "./sound.js";

const config = JSON.parse(document.getElementById("wall-config").textContent);
const S = config.strings;
const LAYOUTS = [1, 2, 3, 4];
const STATUS_POLL_MS = 3000;
const WATCHDOG_MS = 2000;
const STALL_RESTART_MS = 10000;
const ICE_GATHER_TIMEOUT_MS = 3000;
const LAYOUT_KEY = "station.wall.layout";

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

const localeTag = { ru: "ru-RU", kk: "kk-KZ", en: "en-GB" }[config.lang] || "ru-RU";
let timeFormat;
let dateTimeFormat;
try {
  timeFormat = new Intl.DateTimeFormat(localeTag, {
    timeZone: config.timezone, hour: "2-digit", minute: "2-digit", hour12: false,
  });
  dateTimeFormat = new Intl.DateTimeFormat(localeTag, {
    timeZone: config.timezone, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
} catch (error) {
  console.warn("wall: unknown time zone", config.timezone, error);
  timeFormat = dateTimeFormat = new Intl.DateTimeFormat(localeTag, { hour: "2-digit", minute: "2-digit" });
}

function stationTime(iso) {
  const when = new Date(iso);
  const sameDay = Date.now() - when.getTime() < 20 * 3600 * 1000;
  return (sameDay ? timeFormat : dateTimeFormat).format(when);
}

function waitForIceGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function preferH264(transceiver) {
  if (!window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs.filter(
    (c) => c.mimeType.toLowerCase() === "video/h264" || c.mimeType.toLowerCase() === "video/rtx");
  if (codecs.some((c) => c.mimeType.toLowerCase() === "video/h264")) {
    try { transceiver.setCodecPreferences(codecs); } catch (error) { console.warn("wall: codec preferences", error); }
  }
}

// One viewer session: a peer connection playing one camera stream into one <video>.
class LivePlayer {
  constructor(video, cameraId, stream, onChange) {
    this.video = video;
    this.cameraId = cameraId;
    this.stream = stream;
    this.onChange = onChange;
    this.pc = null;
    this.sessionId = null;
    this.transcoded = false;
    this.state = "idle"; // idle | connecting | connected | failed | forbidden
    this.wanted = false;
    this.retryMs = 1000;
    this.retryTimer = null;
    this.lastFrames = 0;
    this.lastProgress = 0;
    this.generation = 0;
  }

  get active() { return this.pc !== null || this.retryTimer !== null; }

  setState(state) {
    if (this.state !== state) {
      this.state = state;
      this.onChange(this);
    }
  }

  async start() {
    this.wanted = true;
    if (this.pc || this.retryTimer || this.state === "forbidden") return;
    const generation = ++this.generation;
    const pc = new RTCPeerConnection({ iceServers: config.ice_servers || [] });
    this.pc = pc;
    this.setState("connecting");
    const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    preferH264(transceiver);
    pc.ontrack = (event) => {
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "connected") {
        this.retryMs = 1000;
        this.lastProgress = performance.now();
        this.setState("connected");
      } else if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        this.restart("connection " + pc.connectionState);
      }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc);
      if (this.pc !== pc || generation !== this.generation) return;
      const answer = await api("/api/live/offer", {
        method: "POST",
        body: { camera_id: this.cameraId, stream: this.stream, sdp: pc.localDescription.sdp, type: "offer" },
      });
      if (this.pc !== pc) { this.closeSession(answer.session_id); return; }
      this.sessionId = answer.session_id;
      this.transcoded = answer.transcoded;
      this.onChange(this);
      await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    } catch (error) {
      if (this.pc !== pc) return;
      if (error instanceof ApiError && error.status === 403) {
        this.teardown();
        this.setState("forbidden");
        return;
      }
      console.warn("wall: live view of", this.cameraId, "failed:", error.message || error);
      this.restart(error.code || "offer failed");
    }
  }

  restart(reason) {
    this.teardown();
    this.setState("failed");
    if (!this.wanted) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 15000);
    console.info("wall:", this.cameraId, "reconnecting in", delay, "ms:", reason);
    this.retryTimer = setTimeout(() => { this.retryTimer = null; if (this.wanted) this.start(); }, delay);
  }

  stop() {
    this.wanted = false;
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    this.teardown();
    this.setState("idle");
  }

  teardown() {
    const pc = this.pc;
    this.pc = null;
    this.generation += 1;
    if (pc) {
      pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
    if (this.sessionId) this.closeSession(this.sessionId);
    this.sessionId = null;
    this.video.srcObject = null;
    this.lastFrames = 0;
  }

  closeSession(sessionId) {
    api("/api/live/sessions/" + encodeURIComponent(sessionId), { method: "DELETE" }).catch(() => {});
  }

  beacon() {
    if (!this.sessionId) return;
    const body = new URLSearchParams({ csrf_token: csrfToken() });
    navigator.sendBeacon("/api/live/sessions/" + encodeURIComponent(this.sessionId) + "/close", body);
    this.sessionId = null;
  }

  frames() {
    const quality = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
    return quality ? quality.totalVideoFrames : 0;
  }

  // Called periodically: is the picture moving? A connected player whose camera is online but shows no new
  // frame for a while is rebuilt (the camera's connection changed under it in a way the decoder did not take).
  watch(cameraOnline) {
    const now = performance.now();
    const frames = this.frames();
    const playing = this.state === "connected" && frames > this.lastFrames;
    if (playing) this.lastProgress = now;
    this.lastFrames = frames;
    if (this.state === "connected" && cameraOnline && now - this.lastProgress > STALL_RESTART_MS) {
      this.lastProgress = now;
      this.restart("no picture");
    }
    return playing;
  }
}

class Tile {
  constructor(wall, camera) {
    this.wall = wall;
    this.camera = camera;
    const node = document.getElementById("tile-template").content.firstElementChild.cloneNode(true);
    this.element = node;
    node.dataset.camera = camera.id;
    node.dataset.testid = "tile";
    this.video = node.querySelector("video");
    this.video.poster = "/api/live/cameras/" + encodeURIComponent(camera.id) + "/snapshot.jpg?width=480";
    node.querySelector(".tile-name").textContent = camera.name;
    node.querySelector(".tile-location").textContent = camera.location || "";
    this.badge = node.querySelector(".tile-badge");
    this.since = node.querySelector(".tile-since");
    this.transcodedTag = node.querySelector(".tag-transcoded");
    this.transcodedTag.title = S.transcoded_hint;
    this.recDot = node.querySelector(".rec-dot");
    this.eventBadge = node.querySelector(".tile-event");
    const stream = camera.streams.includes("sub") ? "sub" : "main";
    this.player = new LivePlayer(this.video, camera.id, stream, () => this.render());
    this.visible = false;
    this.playing = false;
    node.addEventListener("click", () => wall.openFocus(this.camera));
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") wall.openFocus(this.camera); });
    this.bindReplay(node.querySelector(".tile-replay"));
    this.update(camera);
  }

  update(camera) {
    this.camera = camera;
    this.render();
  }

  // "replay the last N minutes": the recordings page for this camera at now − N min, playing
  bindReplay(box) {
    if (!box || !config.replay) return;
    box.hidden = false;
    for (const button of box.querySelectorAll("button[data-minutes]")) {
      const go = (event) => {
        event.stopPropagation();
        const at = new Date(Date.now() - Number(button.dataset.minutes) * 60000);
        const query = new URLSearchParams({ cameras: this.camera.id, at: at.toISOString(), play: "1" });
        window.location.assign(`/recordings?${query}`);
      };
      button.addEventListener("click", go);
      button.addEventListener("keydown", (event) => { if (event.key === "Enter") event.stopPropagation(); });
    }
  }

  render() {
    const camera = this.camera;
    const status = camera.status;
    this.element.dataset.status = status;
    this.element.dataset.state = this.playing ? "playing" : this.player.state;
    this.badge.className = "badge tile-badge badge-" + status;
    this.badge.textContent = S[status] || status;
    this.since.textContent = status === "offline" && camera.since
      ? format(S.offline_since, { time: stationTime(camera.since) }) : "";
    this.transcodedTag.hidden = !(this.player.transcoded || camera.transcoded);
    this.recDot.hidden = !camera.recording;
    const kinds = this.wall.eventKinds(camera.id);
    this.element.classList.toggle("tile-alert", kinds.length > 0);
    if (kinds.length) this.element.dataset.event = kinds.join(" ");
    else delete this.element.dataset.event;
    this.eventBadge.hidden = kinds.length === 0;
    this.eventBadge.textContent = kinds.map((kind) => config.kinds[kind] || kind).join(", ");
    this.eventBadge.title = kinds.length
      ? format(S.event_on_camera, { kinds: this.eventBadge.textContent }) : "";
  }

  sync() {
    const shouldPlay = this.visible && !document.hidden && !this.wall.focusOpen;
    if (shouldPlay && !this.player.wanted) this.player.start();
    else if (!shouldPlay && this.player.wanted) this.player.stop();
  }

  watch() {
    this.playing = this.player.watch(this.camera.status === "online");
    this.render();
  }

  destroy() {
    this.player.stop();
    this.element.remove();
  }
}

class Wall {
  constructor() {
    this.grid = document.querySelector(".wall");
    this.empty = document.querySelector(".wall-empty");
    this.pageLabel = document.querySelector(".wall-page");
    this.summary = document.querySelector(".wall-summary");
    this.focus = document.querySelector(".wall-focus");
    this.focusVideo = this.focus.querySelector(".focus-video");
    this.cameras = [];
    this.tiles = new Map();
    this.page = 0;
    this.focusOpen = false;
    this.focusPlayer = null;
    this.focusCamera = null;
    this.events = [];  // the events going on, as the station last said
    bindSoundToggle(document.getElementById("wall-sound"));
    const saved = Number(localStorage.getItem(LAYOUT_KEY));
    this.layout = LAYOUTS.includes(saved) ? saved : 2;
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const tile = this.tiles.get(entry.target.dataset.camera);
        if (tile) { tile.visible = entry.isIntersecting; tile.sync(); }
      }
    }, { threshold: 0.05 });
    document.querySelectorAll(".wall-layout").forEach((button) => {
      button.addEventListener("click", () => this.setLayout(Number(button.dataset.layout)));
    });
    document.querySelectorAll("[data-page]").forEach((button) => {
      button.addEventListener("click", () => this.setPage(this.page + Number(button.dataset.page)));
    });
    this.focus.querySelector(".focus-close").addEventListener("click", () => this.closeFocus());
    document.addEventListener("keydown", (event) => { if (event.key === "Escape" && this.focusOpen) this.closeFocus(); });
    document.addEventListener("visibilitychange", () => this.syncAll());
    window.addEventListener("pagehide", () => this.leave());
  }

  async start() {
    if (config.events) this.subscribe();
    await this.poll();
    window.setInterval(() => this.poll(), STATUS_POLL_MS);
    window.setInterval(() => this.watch(), WATCHDOG_MS);
    if (config.focus) {
      const camera = this.cameras.find((c) => c.id === config.focus);
      if (camera) this.openFocus(camera);
    }
  }

  async poll() {
    let cameras;
    try {
      cameras = await api("/api/live/cameras");
    } catch (error) {
      this.summary.textContent = S.unavailable;
      return;
    }
    const changed = cameras.map((c) => c.id).join() !== this.cameras.map((c) => c.id).join();
    this.cameras = cameras;
    if (changed) this.render();
    for (const camera of cameras) {
      const tile = this.tiles.get(camera.id);
      if (tile) tile.update(camera);
    }
    if (this.focusCamera) {
      const camera = cameras.find((c) => c.id === this.focusCamera.id);
      if (camera) { this.focusCamera = camera; this.renderFocus(); }
    }
    const online = cameras.filter((c) => c.status === "online").length;
    this.summary.textContent = online + " / " + cameras.length + " " + S.online.toLowerCase();
  }

  pageSize() { return this.layout * this.layout; }

  pages() { return Math.max(1, Math.ceil(this.cameras.length / this.pageSize())); }

  setLayout(layout) {
    if (!LAYOUTS.includes(layout)) return;
    const first = this.page * this.pageSize();
    this.layout = layout;
    localStorage.setItem(LAYOUT_KEY, String(layout));
    this.page = Math.floor(first / this.pageSize());
    this.render();
  }

  setPage(page) {
    const clamped = Math.min(Math.max(page, 0), this.pages() - 1);
    if (clamped !== this.page) { this.page = clamped; this.render(); }
  }

  render() {
    this.page = Math.min(this.page, this.pages() - 1);
    this.grid.dataset.layout = String(this.layout);
    document.querySelectorAll(".wall-layout").forEach((button) => {
      button.setAttribute("aria-pressed", String(Number(button.dataset.layout) === this.layout));
    });
    const shown = this.cameras.slice(this.page * this.pageSize(), (this.page + 1) * this.pageSize());
    const keep = new Set(shown.map((c) => c.id));
    for (const [id, tile] of this.tiles) {
      if (!keep.has(id)) { this.observer.unobserve(tile.element); tile.destroy(); this.tiles.delete(id); }
    }
    shown.forEach((camera, index) => {
      let tile = this.tiles.get(camera.id);
      if (!tile) {
        tile = new Tile(this, camera);
        this.tiles.set(camera.id, tile);
        this.observer.observe(tile.element);
      }
      if (this.grid.children[index] !== tile.element) this.grid.insertBefore(tile.element, this.grid.children[index] || null);
    });
    this.empty.hidden = this.cameras.length > 0;
    this.pageLabel.textContent = this.pages() > 1 ? format(S.page, { page: this.page + 1, pages: this.pages() }) : "";
    document.querySelector(".wall-pager").hidden = this.pages() <= 1;
  }

  syncAll() {
    for (const tile of this.tiles.values()) tile.sync();
    if (this.focusPlayer) {
      if (document.hidden) this.focusPlayer.stop();
      else if (!this.focusPlayer.wanted) this.focusPlayer.start();
    }
  }

  watch() {
    for (const tile of this.tiles.values()) if (tile.player.wanted) tile.watch();
    if (this.focusPlayer && this.focusCamera) {
      this.focusPlayer.watch(this.focusCamera.status === "online");
      this.renderFocus();
    }
  }

  openFocus(camera) {
    this.closeFocus();
    this.focusOpen = true;
    this.focusCamera = camera;
    this.focus.hidden = false;
    this.focus.dataset.camera = camera.id;
    const stream = camera.streams.includes("main") ? "main" : camera.streams[0];
    this.focusVideo.poster = "/api/live/cameras/" + encodeURIComponent(camera.id) + "/snapshot.jpg?stream=" + stream;
    this.focusPlayer = new LivePlayer(this.focusVideo, camera.id, stream, () => this.renderFocus());
    this.syncAll();  // the tiles behind stop streaming
    this.focusPlayer.start();
    this.renderFocus();
    this.focus.querySelector(".focus-close").focus();
  }

  renderFocus() {
    const camera = this.focusCamera;
    if (!camera) return;
    this.focus.querySelector(".focus-name").textContent = camera.name;
    this.focus.querySelector(".focus-location").textContent = camera.location || "";
    const badge = this.focus.querySelector(".focus-badge");
    badge.className = "badge focus-badge badge-" + camera.status;
    badge.textContent = (S[camera.status] || camera.status) + (camera.status === "offline" && camera.since
      ? " · " + format(S.offline_since, { time: stationTime(camera.since) }) : "");
    const rec = this.focus.querySelector(".focus-rec");
    rec.textContent = camera.recording ? S.recording : S.not_recording;
    rec.classList.toggle("on", camera.recording);
    const transcoded = this.focus.querySelector(".focus-transcoded");
    transcoded.hidden = !(this.focusPlayer && this.focusPlayer.transcoded);
    transcoded.title = S.transcoded_hint;
    this.focus.dataset.state = this.focusPlayer ? this.focusPlayer.state : "idle";
  }

  closeFocus() {
    if (!this.focusOpen) return;
    if (this.focusPlayer) this.focusPlayer.stop();
    this.focusPlayer = null;
    this.focusCamera = null;
    this.focusOpen = false;
    this.focus.hidden = true;
    this.syncAll();
  }

  leave() {
    for (const tile of this.tiles.values()) tile.player.beacon();
    if (this.focusPlayer) this.focusPlayer.beacon();
  }

  // Detection events ------------------------------------------------------------------------------------

  subscribe() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/events/stream");
    source.addEventListener("active", (message) => {
      let events;
      try {
        events = JSON.parse(message.data);
      } catch (error) {
        console.warn("wall: unreadable event stream message", error);
        return;
      }
      this.setEvents(events);
    });
    window.addEventListener("pagehide", () => source.close());
  }

  setEvents(events) {
    const known = new Set(this.events.map((e) => e.id));
    const arrived = events.filter((e) => !known.has(e.id));
    this.events = events;
    for (const tile of this.tiles.values()) tile.render();
    const link = document.querySelector(".wall-events");
    if (link) {
      link.hidden = events.length === 0;
      link.textContent = format(S.events_now, { count: events.length });
    }
    announce(arrived.map((e) => `event:${e.id}`));
  }

  eventKinds(cameraId) {
    return [...new Set(this.events.filter((e) => e.camera_id === cameraId).map((e) => e.kind))];
  }

  // For tests and diagnostics: what each tile shows right now.
  describe() {
    const describeVideo = (video) => ({
      width: video.videoWidth,
      height: video.videoHeight,
      frames: video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : 0,
    });
    const tiles = {};
    for (const [id, tile] of this.tiles) {
      tiles[id] = {
        status: tile.camera.status, state: tile.player.state, playing: tile.playing,
        session: tile.player.sessionId, transcoded: tile.player.transcoded, ...describeVideo(tile.video),
        event: this.eventKinds(id),
      };
    }
    return { layout: this.layout, page: this.page, focus: this.focusCamera && this.focusCamera.id, tiles,
      events: this.events.map((e) => e.id), beeps: beepCount(),
      focusVideo: this.focusPlayer ? { state: this.focusPlayer.state, ...describeVideo(this.focusVideo) } : null };
  }
}

const wall = new Wall();
window.stationWall = wall;
wall.start();
