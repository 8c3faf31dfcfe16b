/** Which TensorFlow.js backend the demo runs on. */
import { useBestBackend } from '@flatmin/backend';
import type { BackendName } from './args.js';

/**
 * The fastest installed backend (`useBestBackend()`: tfjs-node-gpu → tfjs-node → wasm → cpu),
 * or exactly `override` (`--backend cpu|wasm`). Logs one line; returns the backend's name.
 */
export async function selectBackend(override?: BackendName): Promise<string> {
  const choice = await useBestBackend(override === undefined ? {} : { order: [override] });
  return choice.name;
}
