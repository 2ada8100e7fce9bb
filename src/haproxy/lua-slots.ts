/**
 * The `dockstack slot` CLI command (dockstack.lua, loaded by the rendered config when HAProxy has
 * Lua): one command sets a config slot's address, weight, state and checks, and finds the server
 * by a table lookup instead of HAProxy 2.6's walk over the backend's server list. Measured on a
 * 16,384-slot backend: 400 native commands on the list's last servers 150–470 ms each kind (a
 * fill is 3–4 of them), 400 `dockstack slot` 34–66 ms.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.ts';
import { sendCommand } from './runtime-api.ts';

export const LUA_FILE = 'dockstack.lua';

/** Write dockstack.lua into HAProxy's state directory, where the config's `lua-load` reads it. */
export async function writeLuaSlots(dir: string): Promise<void> {
  await writeFileAtomic(join(dir, LUA_FILE), await readFile(new URL(`./${LUA_FILE}`, import.meta.url), 'utf8'), { mode: 0o600 });
}

/** Whether the running worker has the command (HAProxy built with Lua, and the file loaded). */
export async function hasLuaSlots(socket: string): Promise<boolean> {
  return (await sendCommand(socket, 'dockstack version').catch(() => '')).trim() === 'dockstack 1';
}

/** A slot's wanted state; `undefined` fields are left as they are. */
export interface LuaSlot {
  readonly ip?: string;
  readonly port?: number;
  readonly weight?: number;
  readonly admin: 'ready' | 'drain' | 'maint';
  readonly health?: boolean;
}

/** The `dockstack slot` command for server `sv` ("backend/sN"). */
export function luaSlotOp(sv: string, s: LuaSlot): string {
  const opt = (v: unknown) => (v === undefined ? '-' : String(v));
  const health = s.health === undefined ? '-' : s.health ? 'on' : 'off';
  return `dockstack slot ${sv} ${opt(s.ip)} ${opt(s.ip === undefined ? undefined : s.port)} ${opt(s.weight)} ${s.admin} ${health}`;
}
