// A horizontal bar of one camera's range: recorded spans, gaps (with reasons in the tooltip), event ticks and
// a cursor. Clicking calls onSeek(seconds from the range start).

export function renderTimeline(container, data, { onSeek, gapLabel = "", recordedLabel = "", format = (d) => d } = {}) {
  const start = new Date(data.start).getTime();
  const end = new Date(data.end).getTime();
  const total = Math.max(end - start, 1);
  const pct = (t) => `${(Math.min(Math.max(new Date(t).getTime() - start, 0), total) / total) * 100}%`;
  const width = (a, b) => `${((Math.min(new Date(b).getTime(), end) - Math.max(new Date(a).getTime(), start)) / total) * 100}%`;
  container.replaceChildren();
  container.classList.add("timeline");
  const add = (cls, a, b, title) => {
    const el = document.createElement("div");
    el.className = cls;
    el.style.left = pct(a);
    el.style.width = width(a, b);
    el.title = title;
    container.append(el);
    return el;
  };
  for (const span of data.spans || []) add("tl-span", span.start, span.end, `${recordedLabel}: ${format(span.start)} – ${format(span.end)}`);
  for (const gap of data.gaps || []) {
    add("tl-gap", gap.start, gap.end, `${gapLabel}: ${format(gap.start)} – ${format(gap.end)} ${(gap.reasons || []).join(", ")}`);
  }
  for (const event of data.events || []) {
    const tick = document.createElement("div");
    tick.className = "tl-event";
    tick.style.left = pct(event.start);
    tick.title = `${event.kind} ${format(event.start)}`;
    container.append(tick);
  }
  const cursor = document.createElement("div");
  cursor.className = "tl-cursor";
  container.append(cursor);
  container.onclick = (e) => {
    const box = container.getBoundingClientRect();
    const seconds = ((e.clientX - box.left) / box.width) * total / 1000;
    if (onSeek) onSeek(seconds);
  };
  return {
    setPosition(seconds) { cursor.style.left = `${Math.min(100, (seconds * 1000 / total) * 100)}%`; },
  };
}
