/** The machine and versions a run was measured on, for the header of each BENCHMARKS.md section. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function firstLine(cmd: string, args: string[], re: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 10_000 });
    return re.exec(stdout + stderr)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** One line: cores, CPU model, node/HAProxy/ZooKeeper/etcd versions. */
export async function describeMachine(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? '?';
  const [haproxy, etcd, zk] = await Promise.all([
    firstLine('haproxy', ['-v'], /version (\S+)/),
    firstLine('etcd', ['--version'], /etcd Version: (\S+)/),
    firstLine('dpkg-query', ['-W', '-f', '${Version}', 'zookeeper'], /^(\S+)/),
  ]);
  return `${availableParallelism()} vCPU (nproc), ${model}; Node ${process.version}, HAProxy ${haproxy}, ZooKeeper ${zk}, etcd ${etcd}`;
}
