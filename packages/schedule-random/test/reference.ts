// Float64 references written from the RST rule (independent of src/): the linear least-squares
// problem of the test kit, SGD as the base optimizer, SAM's ε = ρ g/‖g‖ with one global norm.
import { SeededRandom } from '@flatmin/core/kit';
import { axpy, type LinearParams, type LinearProblem, linearGrad64, norm64 } from '@flatmin/test-kit';

/**
 * The sharp/plain decisions of RST by hand: at step t, with p = p(t), sharp when p = 1, plain when
 * p = 0, and otherwise a Bernoulli trial u < p with u the next uniform draw of the optimizer's
 * generator (`new SeededRandom(seed)`, the source `sharpnessAware({ seed })` starts from).
 */
export function decisions(seed: number, steps: number, p: (t: number) => number): boolean[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: steps }, (_, t) => {
    const pt = p(t);
    if (pt === 1) return true;
    if (pt === 0) return false;
    return random.uniform() < pt;
  });
}

/** SGD with SAM on the sharp steps and the plain gradient on the others. */
export function rst64(problem: LinearProblem, sharp: readonly boolean[], { rho, lr }: { rho: number; lr: number }): LinearParams {
  let w = problem.init;
  for (const isSharp of sharp) {
    const g = linearGrad64(problem, w);
    const direction = isSharp ? linearGrad64(problem, axpy(rho / norm64(g), g, w)) : g;
    w = axpy(-lr, direction, w);
  }
  return w;
}
