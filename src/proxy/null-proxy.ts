/**
 * The Proxy for `--proxy none`: accepts every apply and keeps nothing, so an agent that only
 * registers services holds no per-listener memory however many Subscriptions it reads.
 */
import type { ApplyResult, EndpointStatus, Proxy } from './proxy.ts';

const NOTHING: ApplyResult = { reloaded: false, reasons: [], runtimeOps: 0 };

export class NullProxy implements Proxy {
  async apply(): Promise<ApplyResult> {
    return NOTHING;
  }
  async update(): Promise<ApplyResult> {
    return NOTHING;
  }
  async remove(): Promise<void> {}
  async status(): Promise<readonly EndpointStatus[]> {
    return [];
  }
  async close(): Promise<void> {}
}
