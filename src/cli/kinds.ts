import type { Kind } from '../manifest/schema.ts';

const ALIASES: Record<string, Kind> = {
  service: 'Service', services: 'Service', svc: 'Service',
  subscription: 'Subscription', subscriptions: 'Subscription', sub: 'Subscription', subs: 'Subscription',
};

/** kubectl-style kind names: "service", "services", "svc", "Subscription"… */
export function parseKind(s: string): Kind | undefined {
  return ALIASES[s.toLowerCase()];
}

export const pluralOf = (k: Kind): string => `${k.toLowerCase()}s`;
