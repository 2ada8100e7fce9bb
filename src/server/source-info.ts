/**
 * The revision in force, reported three ways: GET /api/v1/source ({path, revision}), the
 * `dockstack_source_info{revision}` gauge (1 for the current revision), and through the status
 * client the line `get` prints above its table. `revision` is the source's: read from the
 * directory once per pass (directory-source.ts), never per request.
 */
import type { ServerResponse } from 'node:http';
import { Gauge, type Registry } from './prom.ts';

export function sourceInfo(dir: string, revision: () => string | undefined, registry: Registry): (pathname: string, res: ServerResponse) => Promise<boolean> {
  new Gauge({
    name: 'dockstack_source_info', help: 'The revision (git commit) of the manifests directory in force; 1 for the current one', labelNames: ['revision'], registers: [registry],
    collect() {
      this.reset();
      const r = revision();
      if (r) this.set({ revision: r }, 1);
    },
  });
  return async (pathname, res) => {
    if (pathname !== '/api/v1/source') return false;
    const r = revision();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ path: dir, ...(r && { revision: r }) }, null, 2)}\n`);
    return true;
  };
}
