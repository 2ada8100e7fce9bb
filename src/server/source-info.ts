/**
 * The revision in force, reported three ways: GET /api/v1/source ({path, revision}), the
 * `dockstack_source_info{revision}` gauge (1 for the current revision), and through the status
 * client the line `get` prints above its table. Read from the directory at request time.
 */
import type { ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { sourceRevision } from '../manifest/source-revision.ts';

export function sourceInfo(dir: string, registry: Registry): (pathname: string, res: ServerResponse) => Promise<boolean> {
  new Gauge({
    name: 'dockstack_source_info', help: 'The revision (git commit) of the manifests directory in force; 1 for the current one', labelNames: ['revision'], registers: [registry],
    async collect() {
      this.reset();
      const revision = await sourceRevision(dir);
      if (revision) this.set({ revision }, 1);
    },
  });
  return async (pathname, res) => {
    if (pathname !== '/api/v1/source') return false;
    const revision = await sourceRevision(dir);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ path: dir, ...(revision && { revision }) }, null, 2)}\n`);
    return true;
  };
}
