/**
 * What HAProxy itself says about each Subscription's servers, read from its stats socket with a
 * bound: at most `max` Subscriptions and `budgetMs` in total, so a slow or dead HAProxy cannot hold
 * a scrape, a describe or the dashboard. Shared by /metrics, the status API and the dashboard.
 */
import type { Agent } from '../agent.ts';
import type { EndpointStatus, Proxy } from '../proxy/proxy.ts';
import { isKeyOf, nameOf } from '../object-key.ts';
import { within } from '../within.ts';

/** The words an operator reads (HAProxy's), by endpoint state; an unchecked endpoint takes traffic. */
export const STATE_WORD: Record<EndpointStatus['state'], 'UP' | 'DOWN' | 'MAINT' | 'DRAIN'> = { up: 'UP', unchecked: 'UP', down: 'DOWN', maintenance: 'MAINT', draining: 'DRAIN' };

/** One endpoint as the status API serves it: the proxy's report plus the operator's word for its state. */
export interface LiveServer extends EndpointStatus {
  readonly word: 'UP' | 'DOWN' | 'MAINT' | 'DRAIN';
}

export interface ReadLimits {
  readonly max?: number;
  readonly budgetMs?: number;
}

/** The live servers of Subscription `name`, or undefined when HAProxy did not answer within `ms`. */
export async function liveServers(proxy: Proxy, name: string, ms = 2000): Promise<LiveServer[] | undefined> {
  const rows = await settledWithin(proxy.status(name), ms);
  return rows?.map((r) => ({ ...r, word: STATE_WORD[r.state] }));
}

/** Live servers of every Subscription the agent has (name → servers), within the limits. */
export async function liveServersOfAll(agent: Agent, proxy: Proxy, limits: ReadLimits = {}): Promise<Map<string, LiveServer[]>> {
  const deadline = Date.now() + (limits.budgetMs ?? 2000);
  const out = new Map<string, LiveServer[]>();
  const keys = agent.manifests.keys().filter((k) => isKeyOf('Subscription', k)).slice(0, limits.max ?? 200);
  for (const key of keys) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const rows = await liveServers(proxy, nameOf(key), left);
    if (rows) out.set(nameOf(key), rows);
  }
  return out;
}

/** `p`'s value, or undefined when it fails or takes longer than `ms`. */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return within(p.catch(() => undefined), { ms, onTimeout: () => undefined });
}
