// The console's one sound setting and its one beep, shared by the live wall's "Sound on new events" checkbox
// (wall.js) and the notification panel's "Sound" toggle (notifications.js).
//
// - One localStorage key (SOUND_KEY, "on"/"off"; off by default). The notification panel's former key is read
//   once as the starting value, so a user who turned the sound on keeps it.
// - Every toggle bound with bindSoundToggle() shows the setting and changes it; a change made in one place
//   (or in another tab: the "storage" event) shows at once in every other.
// - announce(keys) beeps once for things not announced before on this page, whoever hears of them first: a
//   detection event reaches the wall through its event stream ("event:<id>") and the notification panel
//   through its next poll (events_pending names the newest event), and beeps only once.
// Both scripts import this module by the same URL, so they share one instance (ES modules are singletons).

export const SOUND_KEY = "station.sound";
const LEGACY_KEY = "station.notifications.sound";
const CHANGE = "station-sound-change";

const announced = new Set();
let audio = null;
let beeps = 0;

function readStored() {
  try {
    const value = window.localStorage.getItem(SOUND_KEY);
    if (value !== null) return value === "on";
    return window.localStorage.getItem(LEGACY_KEY) === "on";
  } catch (error) {
    return false;
  }
}

export function soundOn() {
  return readStored();
}

export function setSound(on) {
  try {
    window.localStorage.setItem(SOUND_KEY, on ? "on" : "off");
    window.localStorage.removeItem(LEGACY_KEY);
  } catch (error) {
    console.warn("sound: cannot remember the sound choice", error);
  }
  window.dispatchEvent(new CustomEvent(CHANGE, { detail: { on } }));
}

// Calls back with the new setting whenever it changes, on this page or in another tab.
export function onSoundChange(callback) {
  window.addEventListener(CHANGE, (event) => callback(Boolean(event.detail && event.detail.on)));
  window.addEventListener("storage", (event) => {
    if (event.key === SOUND_KEY || event.key === null) callback(readStored());
  });
}

function audioContext() {
  if (!audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    audio = new Context();
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

// A short two-tone beep (no audio files).
function beep() {
  beeps += 1;
  const context = audioContext();
  if (!context) return;
  const now = context.currentTime;
  [[880, 0], [660, 0.18]].forEach(([frequency, offset]) => {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.15);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(now + offset);
    oscillator.stop(now + offset + 0.16);
  });
}

// Shows the setting in a checkbox and lets it change the setting; the click is the user gesture browsers
// want before audio may play, so turning the sound on also unlocks it.
export function bindSoundToggle(input) {
  if (!input) return;
  input.checked = soundOn();
  input.addEventListener("change", () => {
    if (input.checked) audioContext();
    setSound(input.checked);
  });
  onSoundChange((on) => { input.checked = on; });
}

// Marks the things named by `keys` as announced and beeps once if one of them is new and the sound is on.
// Returns whether it beeped.
export function announce(keys) {
  const fresh = [...keys].filter((key) => !announced.has(key));
  fresh.forEach((key) => announced.add(key));
  if (!fresh.length || !soundOn()) return false;
  beep();
  return true;
}

// Marks the things named by `keys` as known without a beep (what a page finds when it opens is not new).
export function remember(keys) {
  for (const key of keys) announced.add(key);
}

// Forgets the things named by `keys` (a condition that cleared): should it come back, it is new again.
export function forget(keys) {
  for (const key of keys) announced.delete(key);
}

// How many beeps this page played (for tests and diagnostics).
export function beepCount() {
  return beeps;
}
