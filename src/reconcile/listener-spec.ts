/** A Subscription's spec in the proxy's words: the only place the manifest meets the proxy boundary. */
import type { ProxyCheck, SubscriptionManifest } from '../manifest/schema.ts';
import type { Balance, EndpointCheck, ListenerSpec } from '../proxy/proxy.ts';

const BALANCE: Record<SubscriptionManifest['spec']['balance'], Balance> = {
  roundrobin: 'round-robin',
  leastconn: 'least-connections',
  first: 'first',
  source: 'source-hash',
  random: 'random',
};

function checkOf(c: ProxyCheck): EndpointCheck {
  if (c.type === 'none') return { kind: 'none' };
  const timing = { intervalMs: c.interMs, rise: c.rise, fall: c.fall };
  if (c.type === 'http') return { kind: 'http', path: c.path, ...(c.hostHeader !== undefined && { hostHeader: c.hostHeader }), ...timing };
  if (c.type === 'mysql') return { kind: 'mysql', user: c.user, ...timing };
  return { kind: c.type, ...timing };
}

/** The listener a Subscription asks for. */
export function listenerSpecOf(spec: SubscriptionManifest['spec']): ListenerSpec {
  return {
    listen: { host: spec.listen.address, port: spec.listen.port },
    protocol: spec.mode,
    balance: BALANCE[spec.balance],
    check: checkOf(spec.check),
    timeouts: { ...spec.timeouts },
    ...(spec.accessLog !== undefined && { accessLog: spec.accessLog }),
  };
}
