/**
 * Poll `fn` until it stops throwing (and returns), with a bounded deadline. Rethrows the last
 * failure on timeout, so a failing assertion reads as itself. Never use sleeps to synchronise.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const msg = `${opts.message ?? 'condition not met'} within ${timeoutMs} ms`;
  if (last instanceof Error) {
    last.message = `${msg}: ${last.message}`;
    throw last;
  }
  throw new Error(`${msg}: ${String(last)}`);
}
