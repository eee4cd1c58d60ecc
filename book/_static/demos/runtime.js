// What the in-page demos share: ONNX Runtime Web (loaded once, from the site), loading on demand
// when a demo scrolls into view, and small DOM helpers.

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const HERE = new URL(".", import.meta.url);
let runtime = null;

/** ONNX Runtime Web's WebAssembly build, served with the site (demos/ort), imported once per page. */
export function loadRuntime() {
  runtime ??= import(new URL("ort/ort.wasm.min.mjs", HERE).href).then((ort) => {
    ort.env.wasm.wasmPaths = new URL("ort/", HERE).href;
    ort.env.wasm.numThreads = 1; // no cross-origin isolation on a plain static server
    return ort;
  });
  runtime.catch(() => { runtime = null; }); // a failed import is tried again next time
  return runtime;
}

/** Resolves when `node` comes near the viewport, so a page loads no model a reader does not scroll to. */
export function whenVisible(node) {
  return new Promise((resolve) => {
    if (!("IntersectionObserver" in window)) {
      resolve();
      return;
    }
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        observer.disconnect();
        resolve();
      }
    }, { rootMargin: "200px" });
    observer.observe(node);
  });
}

export async function loadJson(path) {
  const response = await fetch(new URL(path, HERE));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

export function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

/** A visible <label> tied to `control` (which needs an id), so the control's name is what is shown. */
export function labelled(control, text) {
  return element("label", { for: control.id }, text);
}

/** Draw SIDE x SIDE grey values (clipped to [0, 1]) on a canvas of that size. */
export function drawGrey(canvas, values) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(SIDE, SIDE);
  for (let i = 0; i < PIXELS; i += 1) {
    const grey = Math.round(255 * Math.min(1, Math.max(0, values[i])));
    image.data.set([grey, grey, grey, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
}
