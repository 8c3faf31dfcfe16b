/** The two builds' bytes, base64, from src/wasm-kernels.wat. */
export function compileKernels(): Promise<{ plain: string; shared: string }>;
/** The generated TypeScript module for those bytes. */
export function binarySource(bytes: { plain: string; shared: string }): string;
