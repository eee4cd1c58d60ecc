// "Denoise it yourself": the book's denoisers run in the reader's browser with ONNX Runtime Web.
//
// A page opts in with an element such as
//   <div class="dae-demo" data-demo="denoise" data-models="paper_autoencoder unet best_denoiser"
//        data-corruptions="gaussian salt-and-pepper masking">text shown without JavaScript</div>
//   <script type="module" src="../demos/denoise.js"></script>
// Everything is served with the site (demos/ort, demos/models, demos/data): no other host, and
// nothing is downloaded before the demo scrolls into view.
//
// Test hooks (tests/test_book.py): the element's `data-state` is "loading", then "ready" or
// "error"; `element.daeDemo.run({clean, noisy, model})` denoises a given (clean, noisy) pair of
// 784 values and resolves to {denoised, psnr, ssim, shown}; `element.daeDemo.settled()` waits for
// the last update, whose result is `element.daeDemo.state.last`; `element.daeDemo.timings` holds
// load times (ms after the demo came into view; `visibleAtMs` is that moment after the page started).
import { addGaussianNoise, addSaltAndPepper, maskPixels, psnr, ssim } from "./imaging.js";
import { HERE, PIXELS, SIDE, drawGrey as draw, element, labelled, loadJson, loadModel, loadRuntime, whenVisible } from "./runtime.js";

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

function panel(title, id) {
  const figure = element("figure", { class: "dae-demo-panel" });
  const canvas = element("canvas", { width: SIDE, height: SIDE, role: "img", "aria-label": title, id });
  const caption = element("figcaption", {}, title);
  const score = element("span", { class: "dae-demo-score" });
  caption.append(element("br"), score);
  figure.append(canvas, caption);
  return { figure, canvas, score, title };
}

function formatScores(values) {
  const decibels = Number.isFinite(values.psnr) ? `${values.psnr.toFixed(2)} dB` : "∞ dB";
  return `PSNR ${decibels} · SSIM ${values.ssim.toFixed(4)}`;
}

let mounted = 0;

async function mount(container) {
  const prefix = `dae-denoise-${(mounted += 1)}`;
  const models = (container.dataset.models || "paper_autoencoder").split(/\s+/).filter(Boolean);
  const corruptions = (container.dataset.corruptions || "gaussian").split(/\s+/).filter(Boolean);
  const status = element("p", { class: "dae-demo-status", role: "status", "aria-live": "polite" });
  const timings = {};
  const sessions = new Map();
  const state = { digit: 0, seed: 1, clean: new Float32Array(PIXELS), drawing: false, last: null };

  const modelPicker = element("select", { id: `${prefix}-model` });
  for (const name of models) modelPicker.append(element("option", { value: name }, TITLES[name] || name));
  const corruptionPicker = element("select", { id: `${prefix}-corruption` });
  for (const name of corruptions) corruptionPicker.append(element("option", { value: name }, name.replaceAll("-", " ")));
  const strength = element("input", { type: "range", min: "0", max: "1", step: "0.05", value: "0.5", id: `${prefix}-strength` });
  const digitSlider = element("input", { type: "range", min: "0", max: "0", step: "1", value: "0", id: `${prefix}-digit` });
  const strengthLabel = labelled(strength, "");
  const digitLabel = labelled(digitSlider, "");
  const newNoise = element("button", { type: "button" }, "New noise");
  const clear = element("button", { type: "button" }, "Clear and draw");
  const inputs = [modelPicker, corruptionPicker, strength, digitSlider, newNoise, clear];
  const noisyPanel = panel("noisy", `${prefix}-noisy`);
  const denoisedPanel = panel("denoised", `${prefix}-denoised`);
  const cleanPanel = panel("clean (draw on it)", `${prefix}-clean`);
  const controls = element("div", { class: "dae-demo-controls" });
  const corruptionRow = corruptions.length > 1 ? [labelled(corruptionPicker, "corruption "), corruptionPicker] : [];
  controls.append(
    labelled(modelPicker, "model "), modelPicker, ...corruptionRow,
    strengthLabel, strength, digitLabel, digitSlider, newNoise, clear,
  );
  const panels = element("div", { class: "dae-demo-panels" });
  panels.append(noisyPanel.figure, denoisedPanel.figure, cleanPanel.figure);
  container.replaceChildren(controls, panels, status);
  container.dataset.state = "loading";
  for (const input of inputs) input.disabled = true; // until the first image is shown

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

  function session(name) {
    if (!sessions.has(name)) {
      const loading = (async () => {
        const description = (await loadJson("models/models.json"))[name];
        if (!description) throw new Error(`no model named ${name} in models/models.json`);
        return loadModel(description.file);
      })();
      loading.catch(() => sessions.delete(name)); // a failed load is tried again next time
      sessions.set(name, loading);
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

  async function render(clean, noisy, name) {
    let denoised;
    try {
      denoised = await denoise(name, noisy);
    } catch (error) {
      denoisedPanel.score.textContent = "";
      draw(denoisedPanel.canvas, new Float32Array(PIXELS));
      throw new Error(`${TITLES[name] || name} could not load (${String(error.message).split("\n")[0]})`);
    }
    const scores = { psnr: psnr(clean, denoised), ssim: ssim(clean, denoised, SIDE) };
    const noisyScores = { psnr: psnr(clean, noisy), ssim: ssim(clean, noisy, SIDE) };
    draw(noisyPanel.canvas, noisy);
    draw(denoisedPanel.canvas, denoised);
    draw(cleanPanel.canvas, clean);
    noisyPanel.score.textContent = formatScores(noisyScores);
    denoisedPanel.score.textContent = formatScores(scores);
    noisyPanel.canvas.setAttribute("aria-label", `noisy digit, ${formatScores(noisyScores)}`);
    denoisedPanel.canvas.setAttribute("aria-label", `denoised by ${TITLES[name] || name}, ${formatScores(scores)}`);
    state.last = { denoised: Array.from(denoised), ...scores, shown: denoisedPanel.score.textContent };
    return state.last;
  }

  // One render at a time, and only the newest request: dragging a slider does not queue a backlog.
  let pending = Promise.resolve();
  let wanted = null;
  let working = false;
  function update() {
    const clean = Float32Array.from(state.clean); // a snapshot: drawing goes on while this renders
    wanted = { clean, noisy: corruption().apply(clean, Number(strength.value), state.seed), name: modelPicker.value };
    if (!working) {
      working = true;
      pending = (async () => {
        while (wanted) {
          const request = wanted;
          wanted = null;
          try {
            await render(request.clean, request.noisy, request.name);
            if (!["loading", "starting"].includes(container.dataset.state)) ready(); // the first: below
          } catch (error) {
            fail(error);
          }
        }
        working = false;
      })();
    }
    return pending;
  }

  function ready() {
    container.dataset.state = "ready";
    status.textContent = "Move the sliders, draw new noise, pick a model, or draw a digit on the clean image "
      + "(with a mouse, a pen or a finger; the digit slider works from the keyboard).";
  }

  function fail(error) {
    container.dataset.state = "error";
    status.textContent = `The demo could not run: ${error.message}. The figures above show the same models.`;
    console.warn("dae demo:", error);
  }

  // Drawing on the clean image: a line between successive pointer positions, primary pointer only.
  let previous = null;
  const cell = (event) => {
    const box = cleanPanel.canvas.getBoundingClientRect();
    const left = box.left + cleanPanel.canvas.clientLeft;
    const top = box.top + cleanPanel.canvas.clientTop;
    return [
      ((event.clientX - left) / cleanPanel.canvas.clientWidth) * SIDE,
      ((event.clientY - top) / cleanPanel.canvas.clientHeight) * SIDE,
    ];
  };
  const stamp = (x, y) => {
    const column = Math.floor(x), row = Math.floor(y);
    for (let dr = -1; dr <= 1; dr += 1) {
      for (let dc = -1; dc <= 1; dc += 1) {
        const r = row + dr, c = column + dc;
        if (r < 0 || r >= SIDE || c < 0 || c >= SIDE) continue;
        state.clean[r * SIDE + c] = Math.max(state.clean[r * SIDE + c], dr === 0 && dc === 0 ? 1 : 0.6);
      }
    }
  };
  const paint = (event) => {
    const [x, y] = cell(event);
    const [x0, y0] = previous || [x, y];
    const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) * 2));
    for (let i = 1; i <= steps; i += 1) stamp(x0 + ((x - x0) * i) / steps, y0 + ((y - y0) * i) / steps);
    previous = [x, y];
    draw(cleanPanel.canvas, state.clean);
  };
  const endStroke = () => {
    if (state.drawing) update();
    state.drawing = false;
    previous = null;
  };
  cleanPanel.canvas.addEventListener("pointerdown", (event) => {
    if (!event.isPrimary || event.button > 0 || container.dataset.state === "loading") return;
    state.drawing = true;
    previous = null;
    cleanPanel.canvas.setPointerCapture?.(event.pointerId);
    paint(event);
  });
  cleanPanel.canvas.addEventListener("pointermove", (event) => {
    if (state.drawing && event.isPrimary) paint(event);
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    cleanPanel.canvas.addEventListener(type, endStroke);
  }

  container.daeDemo = {
    timings,
    state,
    async run({ clean, noisy, model }) {
      await pending;
      const result = render(Float32Array.from(clean), Float32Array.from(noisy), model || modelPicker.value);
      pending = result.catch(() => undefined);
      return result;
    },
    update,
    settled: () => pending,
  };

  try {
    status.textContent = "The model loads when this demo scrolls into view.";
    await whenVisible(container);
    const started = performance.now();
    timings.visibleAtMs = started; // since the page started loading (performance.now's origin)
    status.textContent = "Loading the model…";
    const [digits] = await Promise.all([loadDigits(), session(models[0])]);
    timings.modelMs = performance.now() - started;
    digitSlider.max = String(digits.count - 1);
    const showDigit = () => {
      state.digit = Number(digitSlider.value);
      digitLabel.textContent = ` test digit ${state.digit + 1} of ${digits.count} (a ${digits.labels[state.digit]}) `;
      state.clean = digits.digit(state.digit);
    };
    showDigit();
    container.dataset.state = "starting";
    await update();
    timings.firstImageMs = performance.now() - started;
    if (container.dataset.state !== "error") ready();
    for (const input of inputs) input.disabled = false;

    digitSlider.addEventListener("input", () => { showDigit(); update(); });
    strength.addEventListener("input", () => { syncStrength(); update(); });
    corruptionPicker.addEventListener("change", () => { setCorruption(); update(); });
    modelPicker.addEventListener("change", () => update());
    newNoise.addEventListener("click", () => { state.seed += 1; update(); });
    clear.addEventListener("click", () => { state.clean = new Float32Array(PIXELS); update(); });
  } catch (error) {
    fail(error);
  }
}

for (const container of document.querySelectorAll(".dae-demo[data-demo='denoise']")) mount(container);
