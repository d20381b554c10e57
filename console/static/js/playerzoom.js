// Digital zoom of one player tile: the wheel zooms around the pointer, a drag moves the zoomed picture, and
// zoomBy()/reset() serve the toolbar buttons and the "z" key. The picture is scaled with a CSS transform set
// from script (the page's CSP forbids style= attributes, not element.style); the tile clips it. The scale is
// mirrored in the screen's data-zoom attribute (for tests and styling).

const MAX_SCALE = 8;
const STEP = 1.25;

export class Zoom {
  constructor(screen, video) {
    this.screen = screen;
    this.video = video;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.drag = null;
    screen.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = screen.getBoundingClientRect();
      this.zoomAt(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    screen.addEventListener("pointerdown", (event) => {
      if (this.scale <= 1 || event.button !== 0) return;
      this.drag = { id: event.pointerId, x: event.clientX - this.x, y: event.clientY - this.y };
      screen.setPointerCapture(event.pointerId);
      screen.classList.add("dragging");
    });
    screen.addEventListener("pointermove", (event) => {
      if (!this.drag || event.pointerId !== this.drag.id) return;
      this.x = event.clientX - this.drag.x;
      this.y = event.clientY - this.drag.y;
      this.apply();
    });
    const end = (event) => {
      if (!this.drag || event.pointerId !== this.drag.id) return;
      this.drag = null;
      screen.classList.remove("dragging");
    };
    screen.addEventListener("pointerup", end);
    screen.addEventListener("pointercancel", end);
    this.apply();
  }

  // zoom by ``factor`` keeping the picture point under (px, py) (pixels from the tile's corner) in place
  zoomAt(factor, px, py) {
    const next = Math.min(Math.max(this.scale * factor, 1), MAX_SCALE);
    const cx = (px - this.x) / this.scale;
    const cy = (py - this.y) / this.scale;
    this.scale = next;
    this.x = px - cx * next;
    this.y = py - cy * next;
    this.apply();
  }

  zoomBy(factor) {
    this.zoomAt(factor, this.video.clientWidth / 2, this.video.clientHeight / 2);
  }

  reset() {
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  }

  // keep the picture covering the tile: no empty border while zoomed
  apply() {
    const width = this.video.clientWidth;
    const height = this.video.clientHeight;
    this.x = Math.min(0, Math.max(width - width * this.scale, this.x));
    this.y = Math.min(0, Math.max(height - height * this.scale, this.y));
    this.video.style.transform = this.scale === 1 ? "" : `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.screen.dataset.zoom = this.scale.toFixed(2);
    this.screen.classList.toggle("zoomed", this.scale > 1);
  }
}
