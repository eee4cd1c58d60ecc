// Image arithmetic of the in-page demos, written to match the book's Python package:
// noise as in dae_utils.noise (clipped Gaussian), PSNR and SSIM as scikit-image computes them
// (skimage.metrics, data_range=1, SSIM's defaults: a 7 x 7 uniform window, K1 = 0.01, K2 = 0.03,
// sample covariances, the mean over the pixels whose window lies inside the image).

/** A seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed, the same noise. */
export function uniformGenerator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` independent standard normal numbers from a seeded generator (Box-Muller). */
export function standardNormal(count, seed) {
  const uniform = uniformGenerator(seed);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < count) values[i + 1] = radius * Math.sin(angle);
  }
  return values;
}

/** Clean pixels plus Gaussian noise of standard deviation `std`, clipped to [0, 1]. */
export function addGaussianNoise(clean, std, seed) {
  const noise = standardNormal(clean.length, seed);
  return Float32Array.from(clean, (value, i) => clip(value + std * noise[i]));
}

/** Salt and pepper: a share `amount` of the pixels set to 0 or 1, half each (dae_utils.noise). */
export function addSaltAndPepper(clean, amount, seed) {
  const uniform = uniformGenerator(seed);
  const noisy = Float32Array.from(clean);
  for (let i = 0; i < clean.length; i += 1) {
    if (uniform() < amount) noisy[i] = uniform() < 0.5 ? 0 : 1;
  }
  return noisy;
}

/** Masking: a share `fraction` of the pixels set to 0 (dae_utils.noise.mask_pixels). */
export function maskPixels(clean, fraction, seed) {
  const uniform = uniformGenerator(seed);
  return clean.map((value) => (uniform() < fraction ? 0 : value));
}

export function clip(value) {
  return Math.min(1, Math.max(0, value));
}

/** PSNR in dB with a data range of 1, as skimage.metrics.peak_signal_noise_ratio. */
export function psnr(reference, image) {
  let total = 0;
  for (let i = 0; i < reference.length; i += 1) total += (reference[i] - image[i]) ** 2;
  const mse = total / reference.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/** Mean SSIM of two side x side images in [0, 1], as skimage.metrics.structural_similarity(data_range=1). */
export function ssim(reference, image, side) {
  const window = 7;
  const half = (window - 1) / 2;
  const count = window * window;
  const covarianceNorm = count / (count - 1);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  let total = 0;
  let pixels = 0;
  for (let row = half; row < side - half; row += 1) {
    for (let column = half; column < side - half; column += 1) {
      let sumX = 0, sumY = 0, sumXX = 0, sumYY = 0, sumXY = 0;
      for (let dr = -half; dr <= half; dr += 1) {
        for (let dc = -half; dc <= half; dc += 1) {
          const index = (row + dr) * side + column + dc;
          const x = reference[index];
          const y = image[index];
          sumX += x; sumY += y; sumXX += x * x; sumYY += y * y; sumXY += x * y;
        }
      }
      const meanX = sumX / count, meanY = sumY / count;
      const varianceX = covarianceNorm * (sumXX / count - meanX * meanX);
      const varianceY = covarianceNorm * (sumYY / count - meanY * meanY);
      const covariance = covarianceNorm * (sumXY / count - meanX * meanY);
      total += ((2 * meanX * meanY + c1) * (2 * covariance + c2))
        / ((meanX * meanX + meanY * meanY + c1) * (varianceX + varianceY + c2));
      pixels += 1;
    }
  }
  return total / pixels;
}
