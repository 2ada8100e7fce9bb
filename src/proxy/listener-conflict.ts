/** The error a proxy raises when a listener cannot have its address, and the key listen addresses compare by. */
import { DockstackError } from '../errors.ts';
import { addressOf } from '../net/address.ts';
import type { SocketAddress } from './proxy.ts';

/** "host:port" of a listen address; wildcard hosts are kept apart from specific ones (the kernel decides those). */
export const listenKey = (a: SocketAddress): string => addressOf(a);

/** Listener `listener` cannot listen on `address`: `holder` has it ("listener db", "pid 123", "another process"). */
export class ListenerConflictError extends DockstackError {
  readonly listener: string;
  readonly address: string;
  readonly holder: string;
  constructor(listener: string, address: SocketAddress, holder: string, cause?: unknown) {
    const a = addressOf(address);
    super('E_LISTEN_CONFLICT', `listening on ${a} for ${listener}: address in use by ${holder}`, {
      cause,
      context: { listener, address: a, holder },
      hint: 'choose a free spec.listen address:port, or stop what holds it',
    });
    this.listener = listener;
    this.address = a;
    this.holder = holder;
  }
}
