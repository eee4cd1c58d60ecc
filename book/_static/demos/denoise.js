// "Denoise it yourself": the book's denoisers run in the reader's browser with ONNX Runtime Web.
//
// A page opts in with an element such as
//   <div class="dae-demo" data-demo="denoise" data-models="paper_autoencoder unet best_denoiser"
//        data-corruptions="gaussian salt-and-pepper masking">text shown without JavaScript</div>
//   <script type="module" src="../demos/denoise.js"></script>
// Everything is served with the site (demos/ort, demos/models, demos/data): no other host.
//
// Test hooks (tests/test_book.py): the element's `data-state` becomes "ready" or "error", and
// `element.daeDemo.run({clean, noisy, model})` denoises a given (clean, noisy) pair of 784 values
// and resolves to {denoised, psnr, ssim, shown}; `element.daeDemo.settled()` waits for the last
// update, whose result is `element.daeDemo.state.last`; `element.daeDemo.timings` holds load times
// (ms after the demo came into view; `visibleAtMs` is that moment after the page started loading).
// Nothing is downloaded (runtime, model, digits) before the demo comes into view.
import { addGaussianNoise, addSaltAndPepper, maskPixels, psnr, ssim } from "./imaging.js";
import { HERE, PIXELS, SIDE, drawGrey as draw, element, loadJson, loadRuntime, whenVisible } from "./runtime.js";

const TITLES = {
  paper_autoencoder: "the paper's autoencoder",
  unet: "U-Net (chapter 7)",
  best_denoiser: "the best denoiser (chapter 8)",
};
const CORRUPTIONS = {
  gaussian: { label: "Gaussian noise, std", max: 1, initial: 0.5, apply: addGaussianNoise },
  "salt-and-pepper": { label: "salt and pepper, share", max: 0.5, initial: 0.1, apply: addSaltAndPepper },
  masking: { label: "masked pixels, share", max: 0.9, initial: 0.3, apply: maskPixels },
};

async function loadDigits() {
  const [index, image] = await Promise.all([
    loadJson("data/digits.json"),
    new Promise((resolve, reject) => {
      const sprite = new Image();
      sprite.onload = () => resolve(sprite);
      sprite.onerror = () => reject(new Error("data/digits.png did not load"));
      sprite.src = new URL("data/digits.png", HERE).href;
    }),
  ]);
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(image, 0, 0);
  const digit = (number) => {
    const x = (number % index.columns) * SIDE;
    const y = Math.floor(number / index.columns) * SIDE;
    const rgba = context.getImageData(x, y, SIDE, SIDE).data;
    return Float32Array.from({ length: PIXELS }, (_, i) => rgba[4 * i] / 255);
  };
  return { ...index, digit };
}

function panel(title) {
  const figure = element("figure", { class: "dae-demo-panel" });
  const canvas = element("canvas", { width: SIDE, height: SIDE, "aria-label": title });
  const caption = element("figcaption", {}, title);
  const score = element("span", { class: "dae-demo-score" });
  caption.append(element("br"), score);
  figure.append(canvas, caption);
  return { figure, canvas, score };
}

function formatScores(values) {
  const decibels = Number.isFinite(values.psnr) ? `${values.psnr.toFixed(2)} dB` : "∞ dB";
  return `PSNR ${decibels} · SSIM ${values.ssim.toFixed(4)}`;
}

async function mount(container) {
  const models = (container.dataset.models || "paper_autoencoder").split(/\s+/).filter(Boolean);
  const corruptions = (container.dataset.corruptions || "gaussian").split(/\s+/).filter(Boolean);
  const status = element("p", { class: "dae-demo-status", role: "status", "aria-live": "polite" });
  const timings = {};
  const sessions = new Map();
  const state = { digit: 0, seed: 1, clean: new Float32Array(PIXELS), noisy: null, drawing: false, last: null };

  const modelPicker = element("select", { "aria-label": "model" });
  for (const name of models) modelPicker.append(element("option", { value: name }, TITLES[name] || name));
  const corruptionPicker = element("select", { "aria-label": "corruption" });
  for (const name of corruptions) corruptionPicker.append(element("option", { value: name }, name.replaceAll("-", " ")));
  const strength = element("input", { type: "range", min: "0", max: "1", step: "0.05", value: "0.5", "aria-label": "noise" });
  const strengthLabel = element("label");
  const digitSlider = element("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "aria-label": "test digit" });
  const digitLabel = element("label");
  const newNoise = element("button", { type: "button" }, "New noise");
  const clear = element("button", { type: "button" }, "Clear and draw");
  const noisyPanel = panel("noisy");
  const denoisedPanel = panel("denoised");
  const cleanPanel = panel("clean (draw on it)");
  const controls = element("div", { class: "dae-demo-controls" });
  const corruptionRow = corruptions.length > 1 ? [element("label", {}, "corruption "), corruptionPicker] : [];
  controls.append(
    element("label", {}, "model "), modelPicker, ...corruptionRow,
    strengthLabel, strength, digitLabel, digitSlider, newNoise, clear,
  );
  const panels = element("div", { class: "dae-demo-panels" });
  panels.append(noisyPanel.figure, denoisedPanel.figure, cleanPanel.figure);
  container.replaceChildren(controls, panels, status);
  container.dataset.state = "loading";

  const corruption = () => CORRUPTIONS[corruptionPicker.value] || CORRUPTIONS.gaussian;
  const syncStrength = () => {
    strengthLabel.textContent = ` ${corruption().label} ${Number(strength.value).toFixed(2)} `;
  };
  const setCorruption = () => {
    strength.max = String(corruption().max);
    strength.value = String(corruption().initial);
    syncStrength();
  };
  setCorruption();

  async function session(name) {
    if (!sessions.has(name)) {
      sessions.set(name, (async () => {
        const ort = await loadRuntime();
        const description = (await loadJson("models/models.json"))[name];
        if (!description) throw new Error(`no model named ${name} in models/models.json`);
        return ort.InferenceSession.create(new URL(`models/${description.file}`, HERE).href, { executionProviders: ["wasm"] });
      })());
    }
    return sessions.get(name);
  }

  async function denoise(name, noisy) {
    const ort = await loadRuntime();
    const model = await session(name);
    const input = new ort.Tensor("float32", Float32Array.from(noisy), [1, SIDE, SIDE, 1]);
    const output = await model.run({ [model.inputNames[0]]: input });
    return Float32Array.from(output[model.outputNames[0]].data, (value) => Math.min(1, Math.max(0, value)));
  }

  let pending = Promise.resolve();
  async function render(clean, noisy, name) {
    const denoised = await denoise(name, noisy);
    const scores = { psnr: psnr(clean, denoised), ssim: ssim(clean, denoised, SIDE) };
    draw(noisyPanel.canvas, noisy);
    draw(denoisedPanel.canvas, denoised);
    draw(cleanPanel.canvas, clean);
    noisyPanel.score.textContent = formatScores({ psnr: psnr(clean, noisy), ssim: ssim(clean, noisy, SIDE) });
    denoisedPanel.score.textContent = formatScores(scores);
    state.last = { denoised: Array.from(denoised), ...scores, shown: denoisedPanel.score.textContent };
    return state.last;
  }

  function update() {
    state.noisy = corruption().apply(state.clean, Number(strength.value), state.seed);
    const clean = state.clean, noisy = state.noisy, name = modelPicker.value;
    pending = pending.then(() => render(clean, noisy, name)).catch(fail);
    return pending;
  }

  function fail(error) {
    container.dataset.state = "error";
    status.textContent = `The interactive demo could not start (${error.message}); the figure above shows the same models.`;
    console.warn("dae demo:", error);
  }

  // Drawing on the clean image with a mouse, a pen or a finger.
  const paint = (event) => {
    const box = cleanPanel.canvas.getBoundingClientRect();
    const column = Math.floor(((event.clientX - box.left) / box.width) * SIDE);
    const row = Math.floor(((event.clientY - box.top) / box.height) * SIDE);
    for (let dr = -1; dr <= 1; dr += 1) {
      for (let dc = -1; dc <= 1; dc += 1) {
        const r = row + dr, c = column + dc;
        if (r < 0 || r >= SIDE || c < 0 || c >= SIDE) continue;
        const index = r * SIDE + c;
        state.clean[index] = Math.max(state.clean[index], dr === 0 && dc === 0 ? 1 : 0.6);
      }
    }
    draw(cleanPanel.canvas, state.clean);
  };
  cleanPanel.canvas.addEventListener("pointerdown", (event) => {
    state.drawing = true;
    cleanPanel.canvas.setPointerCapture?.(event.pointerId);
    paint(event);
  });
  cleanPanel.canvas.addEventListener("pointermove", (event) => state.drawing && paint(event));
  for (const type of ["pointerup", "pointercancel"]) {
    cleanPanel.canvas.addEventListener(type, () => {
      if (state.drawing) update();
      state.drawing = false;
    });
  }

  try {
    status.textContent = "The model loads when this demo scrolls into view.";
    await whenVisible(container);
    const started = performance.now();
    timings.visibleAtMs = started; // since the page started loading (performance.now's origin)
    status.textContent = "Loading the model…";
    const digitsPromise = loadDigits();
    const sessionPromise = session(models[0]);
    const digits = await digitsPromise;
    timings.digitsMs = performance.now() - started;
    digitSlider.max = String(digits.count - 1);
    const showDigit = () => {
      state.digit = Number(digitSlider.value);
      digitLabel.textContent = ` test digit ${state.digit + 1} of ${digits.count} (a ${digits.labels[state.digit]}) `;
      state.clean = digits.digit(state.digit);
    };
    showDigit();
    await sessionPromise;
    timings.modelMs = performance.now() - started;
    await update();
    if (container.dataset.state === "error") return;
    timings.firstImageMs = performance.now() - started;
    status.textContent = "Move the sliders, draw new noise, pick a model, or draw a digit on the clean image.";
    container.dataset.state = "ready";

    digitSlider.addEventListener("input", () => { showDigit(); update(); });
    strength.addEventListener("input", () => { syncStrength(); update(); });
    corruptionPicker.addEventListener("change", () => { setCorruption(); update(); });
    modelPicker.addEventListener("change", () => update());
    newNoise.addEventListener("click", () => { state.seed += 1; update(); });
    clear.addEventListener("click", () => { state.clean = new Float32Array(PIXELS); update(); });
  } catch (error) {
    fail(error);
  }

  container.daeDemo = {
    timings,
    state,
    async run({ clean, noisy, model }) {
      await pending;
      const result = await render(Float32Array.from(clean), Float32Array.from(noisy), model || modelPicker.value);
      return result;
    },
    update,
    settled: () => pending,
  };
}

for (const container of document.querySelectorAll(".dae-demo[data-demo='denoise']")) mount(container);
