// The inpainting mask, painted with a pointer on a canvas laid over the input image. The
// canvas has the image's own pixel size (CSS scales it), so the mask sent is exact; painted
// pixels are shown translucent and exported white (repaint) on black (keep).

export class MaskPainter {
  constructor(canvas, color) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.color = color;
    this.brush = 32;
    this.erase = false;
    this.last = null;
    canvas.addEventListener('pointerdown', (e) => this.#down(e));
    canvas.addEventListener('pointermove', (e) => this.#move(e));
    for (const type of ['pointerup', 'pointercancel']) canvas.addEventListener(type, () => (this.last = null));
  }

  // A new input image of this size: an empty mask.
  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.clear();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  invert() {
    const { width, height } = this.canvas;
    const image = this.ctx.getImageData(0, 0, width, height);
    const px = image.data;
    const [r, g, b] = this.#rgb();
    for (let i = 0; i < px.length; i += 4) {
      const painted = px[i + 3] > 0;
      px[i] = r;
      px[i + 1] = g;
      px[i + 2] = b;
      px[i + 3] = painted ? 0 : 255;
    }
    this.ctx.putImageData(image, 0, 0);
  }

  isEmpty() {
    const px = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) return false;
    return true;
  }

  // The mask as a PNG (base64, no data: prefix): white where painted, black elsewhere.
  toBase64Png() {
    const { width, height } = this.canvas;
    const src = this.ctx.getImageData(0, 0, width, height).data;
    const out = new ImageData(width, height);
    for (let i = 0; i < src.length; i += 4) {
      const v = src[i + 3] > 0 ? 255 : 0;
      out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
      out.data[i + 3] = 255;
    }
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').putImageData(out, 0, 0);
    return canvas.toDataURL('image/png').split(',')[1];
  }

  #rgb() {
    this.ctx.fillStyle = this.color;
    const hex = this.ctx.fillStyle; // the browser's canonical "#rrggbb" (or rgba())
    const m = /^#(..)(..)(..)$/.exec(hex);
    return m ? m.slice(1).map((h) => parseInt(h, 16)) : [255, 40, 90];
  }

  #point(e) {
    const rect = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / rect.width;
    return { x: (e.clientX - rect.left) * scale, y: (e.clientY - rect.top) * scale, scale };
  }

  #down(e) {
    if (e.button !== 0) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.#point(e);
    this.#stroke(this.last, this.last);
  }

  #move(e) {
    if (!this.last) return;
    const p = this.#point(e);
    this.#stroke(this.last, p);
    this.last = p;
  }

  #stroke(from, to) {
    const ctx = this.ctx;
    // Opaque paint, shown translucent by the canvas's CSS opacity, so strokes never stack
    // into darker areas and any alpha > 0 means "repaint".
    ctx.globalCompositeOperation = this.erase ? 'destination-out' : 'source-over';
    ctx.strokeStyle = this.color;
    ctx.lineWidth = this.brush * to.scale;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + 0.01, to.y);
    ctx.stroke();
  }
}
