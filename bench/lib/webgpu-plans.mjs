// What the webgpu backend decided on the GPU at hand, as lines to print beside its times: the
// plan tuning kept for each shape, how each layer's sequence runs (its kernel, or the steps),
// and the times tuning measured for a sequence's T steps one by one and on its fastest kernels.
// planLabel is the backend's own (dist/src/backend/webgpu/tuner.js); T the sequence's steps.
export function planLines(backend, planLabel, T) {
  const lines = [];
  const tuned = [...backend.tunedPlans()].map(([shape, plan]) => `${shape}: ${planLabel(plan)}`);
  if (tuned.length > 0) lines.push(`tuned: ${tuned.join('; ')}`);
  const sequences = [...backend.sequencePlans()].map(([shape, how]) => `${shape}: ${how}`);
  if (sequences.length > 0) lines.push(`sequences: ${sequences.join('; ')}`);
  for (const [shape, timed] of backend.sequenceTimes()) {
    const kernels = [...timed].filter(([k]) => k !== 'steps').sort((x, y) => x[1] - y[1]);
    const fmt = ([k, ms]) => `${k} ${ms.toFixed(3)}`;
    lines.push(`${shape}, ms per ${T} steps: steps ${timed.get('steps').toFixed(3)}` +
      (kernels.length > 0 ? `; fastest of ${kernels.length} kernels ${kernels.slice(0, 4).map(fmt).join(', ')}; slowest ${fmt(kernels[kernels.length - 1])}` : ''));
  }
  return lines;
}
