// A horizontal bar of one camera's range: recorded spans, gaps (with reasons in the tooltip), event ticks and
// a cursor. Clicking calls onSeek(seconds from the range start). Hovering shows the time under the pointer
// and, when preview(seconds) returns a URL (a keyframe thumbnail of the segment there), that picture: the
// officer scrubs by eye before playing anything.

// ``marks`` ([{start, end, title}]) are windows drawn over the bar (the incident window of a complaint).
export function renderTimeline(container, data, { onSeek, gapLabel = "", recordedLabel = "", format = (d) => d, preview = null, marks = [] } = {}) {
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
  for (const mark of marks) {
    const el = add("tl-mark", mark.start, mark.end, `${mark.title || ""}: ${format(mark.start)} – ${format(mark.end)}`);
    el.dataset.testid = "timeline-mark";
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
  const hover = document.createElement("div");
  hover.className = "tl-hover";
  hover.hidden = true;
  const picture = document.createElement("img");
  picture.alt = "";
  picture.hidden = true;
  const when = document.createElement("span");
  hover.append(picture, when);
  container.append(hover);
  const secondsAt = (e) => {
    const box = container.getBoundingClientRect();
    return (Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1) * total) / 1000;
  };
  container.onclick = (e) => {
    if (onSeek) onSeek(secondsAt(e));
  };
  container.onmousemove = (e) => {
    const seconds = secondsAt(e);
    hover.hidden = false;
    hover.style.left = `${(seconds * 1000 / total) * 100}%`;
    when.textContent = format(new Date(start + seconds * 1000));
    const url = preview ? preview(seconds) : null;
    if (url && picture.getAttribute("src") !== url) picture.src = url;
    picture.hidden = !url;
  };
  container.onmouseleave = () => { hover.hidden = true; };
  return {
    setPosition(seconds) { cursor.style.left = `${Math.min(100, (seconds * 1000 / total) * 100)}%`; },
  };
}
