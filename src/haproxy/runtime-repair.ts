/**
 * After a refused or unreadable runtime answer the model no longer knows what HAProxy holds: read
 * the backend's real servers (`show servers state`), make the model say that, and send the edits
 * from there to what is wanted. Only when that fails too does the owner fall back to a reload.
 */
import { HaproxyError } from '../errors.ts';
import { slotName } from './config-render.ts';
import { setSlots, shapeOf, type ListenerState } from './listener-model.ts';
import { runAdminBatch, sendCommand } from './runtime-api.ts';
import { keyOf, planRuntime, type Slot } from './slot-plan.ts';

// srv_admin_state bits (HAProxy's SRV_ADMF_MAINT and _DRAIN masks): forced, inherited and resolver
// maint; forced and inherited drain. Not config maint (0x04): a `disabled` slot keeps it after
// `set server … state ready` has put it in rotation.
const MAINT = 0x01 | 0x02 | 0x20;
const DRAIN = 0x08 | 0x10;

/** The slots `show servers state <backend>` describes (our slot names only), by slot index. */
export function parseServersState(text: string, backend: string): (Slot | undefined)[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header || lines[0]?.trim() !== '1') throw new HaproxyError(`reading the state of ${backend}: not a version 1 "show servers state" answer`, { output: text.slice(0, 200) });
  const cols = header.slice(2).split(' ');
  const at = (name: string) => cols.indexOf(name);
  const [be, sv, addr, admin, weight, port] = ['be_name', 'srv_name', 'srv_addr', 'srv_admin_state', 'srv_uweight', 'srv_port'].map(at);
  const slots: (Slot | undefined)[] = [];
  for (const line of lines) {
    const f = line.split(' ');
    const m = /^s(\d+)$/.exec(f[sv!] ?? '');
    if (line.startsWith('#') || f[be!] !== backend || !m) continue;
    const bits = Number(f[admin!]);
    const state: Slot['admin'] = bits & MAINT ? 'maint' : bits & DRAIN ? 'drain' : 'ready';
    const i = Number(m[1]) - 1;
    while (slots.length < i) slots.push(undefined);
    slots[i] = { ip: f[addr!]!, port: Number(f[port!]), weight: Number(f[weight!]), admin: state };
  }
  return slots;
}

/**
 * Converge `name`'s backend from what HAProxy really holds to `st.want`. Resolves the number of
 * commands sent; throws when the state cannot be read or an edit is refused again.
 */
export async function repairFromState(socket: string, name: string, st: ListenerState, drainMs: number, lua: boolean): Promise<number> {
  const real = parseServersState(await sendCommand(socket, `show servers state ${name}`), name);
  // A config slot that is gone (deleted behind our back) can only come back with a reload.
  for (let i = 0; i < st.rendered; i++) if (!real[i]) throw new HaproxyError(`converging ${name} from its real state: config slot ${slotName(i)} is gone`);
  const want = st.want!.servers;
  // A config slot in maint at an address nobody wants is a free slot; a dynamic one must still go.
  const slots = real.map((s, i) => (s && s.admin === 'maint' && !want.has(keyOf(s)) && i < st.rendered ? undefined : s));
  const p = planRuntime(shapeOf(name, st, lua), slots, want.values(), { now: Date.now(), drainMs });
  setSlots(st, p.slots);
  const refused = await runAdminBatch(socket, p.ops);
  if (refused.length) throw new HaproxyError(`converging ${name} from its real state`, { output: refused.map((r) => `"${r.command}": ${r.answer}`).join('; ') });
  return p.ops.length;
}
