/**
 * A self-check page: does a sharpness-aware step run on tfjs' WebGL backend in this browser,
 * and how many device-to-host reads does one step make? (flatmin's step makes none: statistics
 * stay on the device.) The end-to-end test opens this page in headless Chromium.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';

/** What the check found. */
export interface WebglReport {
  /** The backend the steps ran on, or null when WebGL could not be set up. */
  backend: string | null;
  /** Why WebGL is not there (null when it is). */
  error: string | null;
  /** The WebGL renderer string (e.g. SwiftShader), when readable. */
  renderer: string | null;
  webglVersion: number | null;
  steps: number;
  /** Device-to-host reads during the counted steps: calls of the engine's `readSync`/`read`/`readToGPU`. */
  reads: number;
  /** Calls of the WebGL backend's own `readSync`/`read`/`readToGPU` during the counted steps. */
  backendReads: number;
  /** The same counters around one `dataSync()` (a known read: proves the counting sees reads). */
  controlReads: number;
  controlBackendReads: number;
  /** The loss before and after the counted steps (read after counting). */
  lossBefore: number | null;
  lossAfter: number | null;
}

function rendererOf(): { renderer: string | null; version: number | null } {
  const canvas = document.createElement('canvas');
  const gl2 = canvas.getContext('webgl2');
  const gl = gl2 ?? canvas.getContext('webgl');
  if (!gl) return { renderer: null, version: null };
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : String(gl.getParameter(gl.RENDERER));
  return { renderer, version: gl2 ? 2 : 1 };
}

/** Wrap `names` of `target` to count calls; returns the count getter and the undo. */
function countCalls(target: Record<string, unknown>, names: readonly string[]): { count: () => number; undo: () => void } {
  let calls = 0;
  const originals: [string, unknown, boolean][] = [];
  for (const name of names) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    originals.push([name, original, Object.hasOwn(target, name)]);
    target[name] = (...args: unknown[]) => {
      calls += 1;
      return (original as (...a: unknown[]) => unknown).apply(target, args);
    };
  }
  return {
    count: () => calls,
    undo: () => {
      for (const [name, original, own] of originals) {
        if (own) target[name] = original;
        else delete target[name];
      }
    },
  };
}

/** Run `steps` counted sharpness-aware steps on WebGL (after two warm-up steps). */
export async function webglCheck(steps = 5): Promise<WebglReport> {
  const { renderer, version } = rendererOf();
  const report: WebglReport = { backend: null, error: null, renderer, webglVersion: version, steps, reads: 0, backendReads: 0, controlReads: 0, controlBackendReads: 0, lossBefore: null, lossAfter: null };
  if (version === null) {
    report.error = 'this browser could not create a WebGL context (canvas.getContext("webgl2") and ("webgl") both returned null)';
    return report;
  }
  try {
    if (!(await tf.setBackend('webgl'))) throw new Error('tf.setBackend("webgl") returned false');
    await tf.ready();
  } catch (error) {
    report.error = `tfjs could not initialize its WebGL backend: ${(error as Error).message}`;
    return report;
  }
  report.backend = tf.getBackend();
  // A tiny least-squares problem: y = X·w, w of shape [4, 1] (a dense kernel), 16 samples.
  const x = tf.randomNormal([16, 4], 0, 1, 'float32', 7);
  const y = tf.matMul(x, tf.tensor2d([[1], [-2], [0.5], [3]]));
  const w = tf.tidy(() => tf.variable(tf.zeros([4, 1])));
  const loss = () => tf.losses.meanSquaredError(y, tf.matMul(x, w)) as tf.Scalar;
  const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), seed: 1 });
  for (let i = 0; i < 2; i += 1) optimizer.minimize(loss, false, [w]);
  report.lossBefore = (await tf.tidy(loss).data())[0]!;
  const counted = (body: () => void): [number, number] => {
    const engine = countCalls(tf.engine() as unknown as Record<string, unknown>, ['readSync', 'read', 'readToGPU']);
    const backend = countCalls(tf.backend() as unknown as Record<string, unknown>, ['readSync', 'read', 'readToGPU']);
    try {
      body();
    } finally {
      engine.undo();
      backend.undo();
    }
    return [engine.count(), backend.count()];
  };
  [report.reads, report.backendReads] = counted(() => {
    for (let i = 0; i < steps; i += 1) optimizer.minimize(loss, false, [w]);
  });
  [report.controlReads, report.controlBackendReads] = counted(() => {
    w.dataSync();
  });
  report.lossAfter = (await tf.tidy(loss).data())[0]!;
  tf.dispose([x, y, w]);
  optimizer.dispose();
  return report;
}

declare global {
  interface Window {
    /** The report of the check this page runs when it loads. */
    webglReport: Promise<WebglReport>;
  }
}
window.webglReport = webglCheck().then((report) => {
  document.getElementById('report')!.textContent = JSON.stringify(report, null, 2);
  return report;
});
