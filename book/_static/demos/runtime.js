// What the in-page demos share: ONNX Runtime Web (loaded once, from the site), loading on demand
// when a demo scrolls into view, and small DOM helpers.

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const HERE = new URL(".", import.meta.url);
let runtime = null;

/**
 * The bytes of a file that the build stored gzipped (`<path>.gz`), inflated here by the browser's
 * DecompressionStream: a quarter of the runtime's download, from any static server. A server that
 * announces `.gz` files as `Content-Encoding: gzip` has the browser inflate them already; those
 * bytes no longer start with gzip's magic number and are used as they are.
 */
export async function fetchGzipped(path) {
  if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream");
  const response = await fetch(new URL(`${path}.gz`, HERE));
  if (!response.ok) throw new Error(`${path}.gz: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
}

/** ONNX Runtime Web's WebAssembly build, served with the site (demos/ort), loaded once per page. */
export function loadRuntime() {
  runtime ??= (async () => {
    const ort = await import(new URL("ort/ort.wasm.min.mjs", HERE).href);
    ort.env.wasm.wasmPaths = new URL("ort/", HERE).href; // its small JavaScript loader
    ort.env.wasm.wasmBinary = await fetchGzipped("ort/ort-wasm-simd-threaded.wasm");
    ort.env.wasm.numThreads = 1; // no cross-origin isolation on a plain static server
    return ort;
  })();
  runtime.catch(() => { runtime = null; }); // a failed load is tried again next time
  return runtime;
}

/** An inference session for one of the site's models (`models/<file>`, stored gzipped). */
export async function loadModel(file) {
  const ort = await loadRuntime();
  return ort.InferenceSession.create(await fetchGzipped(`models/${file}`), { executionProviders: ["wasm"] });
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
