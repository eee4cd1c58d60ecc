// "Generate a digit": chapter 11's generator sampled in the reader's browser with ONNX Runtime Web.
//
// A page opts in with <div class="dae-demo" data-demo="generate">text without JavaScript</div> and
// <script type="module" src="../demos/generate.js"></script>. The sampler is the package's
// dae_utils.sampling.heun_sample (Karras et al., 2022, Algorithm 1) with EDM's preconditioning and
// classifier-free guidance as in dae_utils.generative.Denoiser when a digit is asked for, and
// autoguidance by the smaller guide network as in dae_utils.generative.Autoguided when any digit
// is (Karras et al., 2024), only at the noise levels of its interval (Kynkaanniemi et al., 2024);
// its constants come from models/generator.json, written from the
// package when the site is built.
//
// Test hooks: `data-state` becomes "ready" or "error"; `element.daeDemo.run({start, label,
// guidance, steps})` samples from a given start (784 values on the model's [-1, 1] scale, already
// multiplied by sigma_max) and resolves to {image (784 values in [0, 1]), evaluations,
// guideEvaluations}; with the
// null label, `guidance` is the autoguidance scale.
import { standardNormal } from "./imaging.js";
import { PIXELS, SIDE, drawGrey as draw, element, labelled, loadJson, loadModel, loadRuntime, whenVisible } from "./runtime.js";

/** EDM's noise levels: `steps` levels from sigma_max down to sigma_min, then 0 (dae_utils.sampling.edm_sigmas). */
export function edmSigmas(steps, { sigmaMax, sigmaMin, rho }) {
  if (steps === 1) return [sigmaMax, 0];
  const levels = [];
  for (let i = 0; i < steps; i += 1) {
    const ramp = i / (steps - 1);
    levels.push((sigmaMax ** (1 / rho) + ramp * (sigmaMin ** (1 / rho) - sigmaMax ** (1 / rho))) ** rho);
  }
  return [...levels, 0];
}

const toImage = (x) => Float32Array.from(x, (value) => Math.min(1, Math.max(0, (value + 1) / 2)));

const INPUTS = ["image", "noise_level", "label"]; // the exported network's inputs (dae_utils.generative)
let mounted = 0;

async function mount(container) {
  const prefix = `dae-generate-${(mounted += 1)}`;
  const status = element("p", { class: "dae-demo-status", role: "status", "aria-live": "polite" });
  const progress = element("p", { class: "dae-demo-status" }); // not live: one update per step
  const digit = element("select", { id: `${prefix}-digit` });
  digit.append(element("option", { value: "any" }, "any digit (no label)"));
  for (let d = 0; d < 10; d += 1) digit.append(element("option", { value: String(d) }, `a ${d}`));
  const guidance = element("input", { type: "range", min: "0", max: "4", step: "0.5", id: `${prefix}-guidance` });
  const guidanceLabel = labelled(guidance, "");
  const steps = element("input", { type: "range", min: "2", max: "40", step: "1", id: `${prefix}-steps` });
  const stepsLabel = labelled(steps, "");
  const button = element("button", { type: "button" }, "Generate");
  const inputs = [digit, guidance, steps, button];
  const controls = element("div", { class: "dae-demo-controls" });
  controls.append(labelled(digit, "ask for "), digit, guidanceLabel, guidance, stepsLabel, steps, button);
  const panels = element("div", { class: "dae-demo-panels" });
  const figure = element("figure", { class: "dae-demo-panel" });
  const canvas = element("canvas", { width: SIDE, height: SIDE, role: "img", "aria-label": "the sampler's current image" });
  const caption = element("figcaption", {}, "the sampler's current image");
  figure.append(canvas, caption);
  const strip = element("div", { class: "dae-demo-strip", role: "group", "aria-label": "the denoiser's estimate at every step" });
  panels.append(figure, strip);
  container.replaceChildren(controls, panels, progress, status);
  container.dataset.state = "loading";
  for (const input of inputs) input.disabled = true;
  const timings = {};
  let seed = 1;
  let busy = Promise.resolve();

  const fail = (error) => {
    container.dataset.state = "error";
    status.textContent = `The generator could not run (${String(error.message).split("\n")[0]}); the figures above show its samples.`;
    console.warn("dae demo:", error);
  };

  try {
    status.textContent = "The generator loads when this demo scrolls into view.";
    await whenVisible(container);
    const started = performance.now();
    timings.visibleAtMs = started;
    status.textContent = "Loading the generator…";
    const settings = await loadJson("models/generator.json");
    const ort = await loadRuntime();
    const [session, guideSession] = await Promise.all([loadModel(settings.file), loadModel(settings.guide)]);
    for (const [network, name] of [[session, "generator"], [guideSession, "guide"]]) {
      const missing = INPUTS.filter((input) => !network.inputNames.includes(input));
      if (missing.length) throw new Error(`the ${name} has no input named ${missing.join(", ")}`);
    }
    const anyDigit = () => digit.value === "any";
    // The slider is the guidance scale for a digit asked for, the autoguidance scale for any digit;
    // each keeps its own value, starting at the book's.
    const scales = { guidance: settings.guidance, autoguidance: settings.autoguidance };
    const kind = () => (anyDigit() ? "autoguidance" : "guidance");
    guidance.value = String(scales[kind()]);
    steps.value = String(settings.steps);
    const sync = () => {
      guidanceLabel.textContent = ` ${kind()} ${Number(guidance.value).toFixed(1)} `;
      stepsLabel.textContent = ` steps ${steps.value} `;
    };
    sync();
    guidance.addEventListener("input", () => {
      scales[kind()] = Number(guidance.value);
      sync();
    });
    digit.addEventListener("change", () => {
      guidance.value = String(scales[kind()]);
      sync();
    });
    steps.addEventListener("input", sync);
    timings.modelMs = performance.now() - started;

    // D(x; sigma, label): for a digit, classifier-free guidance, both passes in one batch of two;
    // for the null label, autoguidance, one pass of the generator and, inside the guidance interval
    // (low < sigma <= high), one of the guide.
    async function denoise(x, sigma, label, scale) {
      const total = sigma ** 2 + settings.sigmaData ** 2;
      const cSkip = settings.sigmaData ** 2 / total;
      const cOut = (sigma * settings.sigmaData) / Math.sqrt(total);
      const cIn = 1 / Math.sqrt(total);
      const [low, high] = settings.autoguidanceInterval;
      const autoguided = scale !== 0 && label === settings.nullLabel && sigma > low && sigma <= high;
      const guided = scale !== 0 && label !== settings.nullLabel;
      const count = guided ? 2 : 1;
      const input = new Float32Array(count * PIXELS);
      for (let i = 0; i < PIXELS; i += 1) input[i] = cIn * x[i];
      if (guided) input.copyWithin(PIXELS, 0, PIXELS);
      const feeds = {
        image: new ort.Tensor("float32", input, [count, SIDE, SIDE, 1]),
        noise_level: new ort.Tensor("float32", new Float32Array(count).fill(Math.log(sigma) / 4), [count, 1]),
        label: new ort.Tensor("int32", Int32Array.from(guided ? [label, settings.nullLabel] : [label]), [count, 1]),
      };
      const output = (await session.run(feeds))[session.outputNames[0]].data;
      // The step's other estimate: the "no label" pass (guidance) or the guide's pass (autoguidance).
      const other = autoguided ? (await guideSession.run(feeds))[guideSession.outputNames[0]].data : output.subarray(PIXELS);
      const denoised = new Float64Array(PIXELS);
      for (let i = 0; i < PIXELS; i += 1) {
        const network = guided || autoguided ? other[i] + (1 + scale) * (output[i] - other[i]) : output[i];
        denoised[i] = cSkip * x[i] + cOut * network;
      }
      return { denoised, evaluations: autoguided ? 2 : count, guideEvaluations: autoguided ? 1 : 0 };
    }

    // Heun's method on the probability-flow ODE (dae_utils.sampling.heun_sample).
    async function sample({ start, label, guidance: scale, steps: count, onStep }) {
      const sigmas = edmSigmas(count, settings);
      let x = Float64Array.from(start);
      let evaluations = 0, guideEvaluations = 0;
      for (let step = 0; step < count; step += 1) {
        const sigma = sigmas[step], next = sigmas[step + 1];
        const first = await denoise(x, sigma, label, scale);
        evaluations += first.evaluations;
        guideEvaluations += first.guideEvaluations;
        const slope = x.map((value, i) => (value - first.denoised[i]) / sigma);
        let xNext = x.map((value, i) => value + (next - sigma) * slope[i]);
        if (next > 0) {
          const second = await denoise(xNext, next, label, scale);
          evaluations += second.evaluations;
          guideEvaluations += second.guideEvaluations;
          xNext = x.map((value, i) => value + (next - sigma) * 0.5 * (slope[i] + (xNext[i] - second.denoised[i]) / next));
        }
        x = xNext;
        if (onStep) await onStep(step, x, first.denoised, count);
      }
      return { image: Array.from(toImage(x)), evaluations, guideEvaluations };
    }

    const generate = () => {
      const label = anyDigit() ? settings.nullLabel : Number(digit.value);
      const request = { label, guidance: Number(guidance.value), steps: Number(steps.value), seed };
      seed += 1;
      button.disabled = true;
      busy = busy.then(async () => {
        strip.replaceChildren();
        status.textContent = `Sampling ${request.steps} steps…`;
        const began = performance.now();
        const start = standardNormal(PIXELS, request.seed).map((value) => settings.sigmaMax * value);
        const result = await sample({
          ...request, start,
          onStep: async (step, x, denoised, count) => {
            draw(canvas, toImage(x));
            const small = element("canvas", { width: SIDE, height: SIDE, title: `step ${step + 1}` });
            draw(small, toImage(denoised));
            strip.append(small);
            progress.textContent = `step ${step + 1} of ${count}`;
            await new Promise((resolve) => setTimeout(resolve, 0)); // let the page paint (also in a background tab)
          },
        });
        const autoguidance = result.guideEvaluations === 0
          ? " (none by the smaller guide network: no step fell at the noise levels where autoguidance acts)"
          : ` (${result.guideEvaluations} of them by the smaller guide network, at the noise levels where autoguidance acts)`;
        const how = request.guidance === 0 ? "" : request.label === settings.nullLabel
          ? autoguidance : " (half of them without the label: guidance)";
        status.textContent = `${result.evaluations} network evaluations${how} in ${((performance.now() - began) / 1000).toFixed(1)} s. `
          + "The small images are the denoiser's estimate of the clean digit at each step.";
        timings.firstSampleMs ??= performance.now() - started;
        container.dataset.state = "ready";
        return result;
      }).catch(fail).finally(() => { button.disabled = false; });
      return busy;
    };

    container.daeDemo = {
      timings,
      settings,
      async run({ start, label, guidance: scale, steps: count }) {
        const result = busy.then(() => sample({ start, label, guidance: scale, steps: count }));
        busy = result.catch(() => undefined);
        return result;
      },
    };
    button.addEventListener("click", generate);
    for (const input of inputs) input.disabled = false;
    await generate();
  } catch (error) {
    fail(error);
  }
}

for (const container of document.querySelectorAll(".dae-demo[data-demo='generate']")) mount(container);
