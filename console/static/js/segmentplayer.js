// Plays a range of recorded segment files in one <video> through Media Source Extensions.
// Each file is a complete fragmented MP4 (its own init segment) that starts on a keyframe; it is appended
// as it is, at timestampOffset = (segment start - view start), so video time 0 is the view's start and a
// gap between segments is a hole in the buffer that the player jumps over. Segments are fetched around the
// play position only (a 24 h view is never loaded at once) and old ones are evicted.
// A file the station is still writing ("growing": its complete fragments, up to a second or two ago) is
// followed: while the play position nears its end, it is fetched again every FOLLOW_MS and only the bytes
// past what was appended (whole fragments, same init segment) are appended, so the newest minute keeps
// playing as it is recorded. Once the file is closed its URL serves the closed file, which begins with the
// same bytes; following stops then, at the view's end, or when the video leaves the page.

const FOLLOW_MS = 1000;
const FOLLOW_WITHIN_S = 5; // start following this close to the end of a growing file

const AHEAD_S = 40;
const BEHIND_S = 90;

function codecOf(buffer) {
  const bytes = new Uint8Array(buffer);
  for (let i = 4; i < bytes.length - 8; i += 1) {
    if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) { // avcC
      const hex = (n) => n.toString(16).padStart(2, "0");
      return `avc1.${hex(bytes[i + 5])}${hex(bytes[i + 6])}${hex(bytes[i + 7])}`;
    }
  }
  return "avc1.64001f";
}

export class SegmentPlayer {
  constructor(video, view) {
    this.video = video;
    this.view = view;
    this.origin = new Date(view.start).getTime();
    this.segments = view.segments.map((s) => ({
      ...s, t0: (new Date(s.start).getTime() - this.origin) / 1000, t1: (new Date(s.end).getTime() - this.origin) / 1000,
    }));
    this.appended = new Set();
    this.lengths = new Map(); // bytes appended per growing segment
    this.followed = 0; // when a growing segment was last fetched again (ms)
    this.timer = null;
    this.busy = false;
    this.failed = null;
  }

  async open() {
    if (!this.segments.length) return false;
    const first = await this.fetchSegment(this.segments[0]);
    this.mediaSource = new MediaSource();
    this.video.src = URL.createObjectURL(this.mediaSource);
    await new Promise((resolve) => this.mediaSource.addEventListener("sourceopen", resolve, { once: true }));
    this.mediaSource.duration = (new Date(this.view.end).getTime() - this.origin) / 1000;
    this.buffer = this.mediaSource.addSourceBuffer(`video/mp4; codecs="${codecOf(first)}"`);
    this.buffer.mode = "segments";
    await this.append(this.segments[0], first);
    this.video.addEventListener("timeupdate", () => this.pump());
    this.video.addEventListener("seeking", () => this.pump());
    this.video.addEventListener("waiting", () => this.skipGap());
    if (this.segments.some((s) => s.growing)) this.timer = window.setInterval(() => this.pump(), FOLLOW_MS);
    this.pump();
    return true;
  }

  stop() {
    if (this.timer) window.clearInterval(this.timer);
    this.timer = null;
  }

  async fetchSegment(segment) {
    const response = await fetch(segment.url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`segment ${segment.id}: HTTP ${response.status}`);
    return response.arrayBuffer();
  }

  append(segment, data) {
    return new Promise((resolve, reject) => {
      this.buffer.timestampOffset = segment.t0;
      if (segment.growing) this.lengths.set(segment.id, (this.lengths.get(segment.id) || 0) + data.byteLength);
      this.buffer.addEventListener("updateend", () => { this.appended.add(segment.id); resolve(); }, { once: true });
      this.buffer.addEventListener("error", reject, { once: true });
      this.buffer.appendBuffer(data);
    });
  }

  evict(now) {
    return new Promise((resolve) => {
      if (now - BEHIND_S <= 0 || this.buffer.updating) { resolve(); return; }
      this.buffer.addEventListener("updateend", resolve, { once: true });
      this.buffer.remove(0, now - BEHIND_S);
      for (const s of this.segments) {
        if (s.t1 < now - BEHIND_S) { this.appended.delete(s.id); this.lengths.delete(s.id); }
      }
    });
  }

  async pump() {
    if (this.busy || !this.buffer || this.failed) return;
    this.busy = true;
    try {
      const now = this.video.currentTime;
      const wanted = this.segments.filter((s) => s.t1 > now - 1 && s.t0 < now + AHEAD_S && !this.appended.has(s.id));
      for (const segment of wanted.slice(0, 3)) {
        this.lengths.delete(segment.id);
        await this.append(segment, await this.fetchSegment(segment));
      }
      await this.follow(now);
      await this.evict(now);
    } catch (error) {
      this.failed = error;
      console.error("playback:", error);
    } finally {
      this.busy = false;
    }
  }

  // the growing segment under the play position: fetch it again and append what was recorded since
  async follow(now) {
    if (!this.video.isConnected) { this.stop(); return; }
    const segment = this.segments.find((s) => s.growing && this.appended.has(s.id) && s.t1 - now < FOLLOW_WITHIN_S);
    if (!segment || Date.now() - this.followed < FOLLOW_MS) return;
    this.followed = Date.now();
    const response = await fetch(segment.url, { credentials: "same-origin", cache: "no-store" }).catch(() => null);
    if (!response || !response.ok) { // not fatal: what was appended still plays; following stops
      console.warn(`playback: segment ${segment.id} cannot be followed (${response ? response.status : "offline"})`);
      segment.growing = false;
      return;
    }
    const end = response.headers.get("X-Segment-End"); // absent: the file is closed (and complete)
    const data = await response.arrayBuffer();
    const have = this.lengths.get(segment.id) || 0;
    if (data.byteLength > have) await this.append(segment, data.slice(have));
    if (end) segment.t1 = (new Date(end).getTime() - this.origin) / 1000;
    if (!end || segment.t1 >= this.mediaSource.duration) {
      segment.growing = false;
      if (!end && this.buffer.buffered.length) segment.t1 = this.buffer.buffered.end(this.buffer.buffered.length - 1);
      if (!this.segments.some((s) => s.growing)) this.stop();
    }
  }

  skipGap() {
    const now = this.video.currentTime;
    const next = this.segments.find((s) => s.t0 > now + 0.05);
    const inside = this.segments.some((s) => s.t0 <= now && s.t1 > now + 0.05);
    if (!inside && next) this.video.currentTime = next.t0 + 0.01;
  }

  seek(seconds) {
    this.video.currentTime = Math.max(0, seconds);
    this.pump();
  }
}

// Several players on one clock: the first is the master, the others follow when they drift. One speed for
// all (the tolerated drift grows with it: at 8x a quarter second is two frames of wall time).
export class SyncGroup {
  constructor(players, rate = 1) {
    this.players = players;
    this.setRate(rate);
    this.timer = window.setInterval(() => this.align(), 500);
  }

  get master() { return this.players[0]; }

  get paused() { return !this.master || this.master.video.paused; }

  setRate(rate) {
    this.rate = rate;
    for (const player of this.players) {
      player.video.defaultPlaybackRate = rate;
      player.video.playbackRate = rate;
    }
  }

  pause() { for (const player of this.players) player.video.pause(); }

  play() { for (const player of this.players) player.video.play().catch(() => {}); }

  align() {
    const master = this.master;
    if (!master) return;
    for (const player of this.players.slice(1)) {
      if (player.video.playbackRate !== master.video.playbackRate) player.video.playbackRate = master.video.playbackRate;
      if (Math.abs(player.video.currentTime - master.video.currentTime) > 0.25 * Math.max(1, this.rate || 1)) {
        player.video.currentTime = master.video.currentTime;
      }
      if (master.video.paused !== player.video.paused) {
        if (master.video.paused) player.video.pause(); else player.video.play().catch(() => {});
      }
    }
  }

  toggle() {
    const playing = this.master && !this.master.video.paused;
    for (const player of this.players) {
      if (playing) player.video.pause(); else player.video.play().catch(() => {});
    }
  }

  seek(seconds) { for (const player of this.players) player.seek(seconds); }

  stop() {
    window.clearInterval(this.timer);
    for (const player of this.players) player.stop();
  }
}
