/**
 * The Docker provider: a ManifestSource whose files are labelled containers (`docker://<name>`).
 * Level-based: an event only names a container, which is then re-inspected; a (re)connected
 * events stream is followed by a full listing, so what changed while nobody watched is reconciled.
 * No polling: between events nothing is asked of Docker. On a lost stream the last snapshot stays
 * in force (fail static) while it reconnects with capped backoff.
 */
import type { FileResult } from '../../manifest/file-result.ts';
import type { ManifestSource } from '../../manifest/manifest-source.ts';
import { parseManifestText } from '../../manifest/parse.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { containerManifest, LABEL_PATH, type ContainerManifest } from './container-manifest.ts';
import { DockerClient, type EventStream } from './docker-client.ts';
import { Backoff } from '../../backoff.ts';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface DockerSourceOptions {
  readonly socketPath?: string;
  readonly log?: Logger;
  /** First reconnect delay; doubles up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

interface Entry {
  readonly manifest: ContainerManifest;
  readonly result: FileResult;
}

export class DockerSource implements ManifestSource {
  readonly #client: DockerClient;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>(); // by container id
  #emit: ((files: ReadonlyMap<string, FileResult>) => void) | undefined;
  #stream: EventStream | undefined;
  #chain: Promise<void> = Promise.resolve(); // inspections and listings run one at a time, in order
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  #closed = false;
  #emittedOnce = false;

  constructor(private readonly opts: DockerSourceOptions = {}) {
    this.#client = new DockerClient(opts.socketPath ?? DEFAULT_DOCKER_SOCKET);
    this.#log = opts.log ?? silentLogger;
    this.#backoff = new Backoff({ baseMs: opts.retryMs ?? 100, capMs: opts.maxRetryMs ?? 30_000, jitter: 0 });
  }

  /** Opens the events stream, then lists; rejects (DockerError) when Docker cannot be reached. */
  async start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void> {
    this.#emit = onSnapshot;
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#stream?.close();
    this.#emit = undefined;
    await this.#chain;
  }

  async #connect(): Promise<void> {
    const stream = await this.#client.events(LABEL_PATH, (e) => this.#onEvent(e.Actor?.ID ?? e.id, e.Action), (err) => this.#onStreamEnd(err));
    if (this.#closed) return stream.close();
    this.#stream = stream;
    try {
      await this.#serial(() => this.#relist());
    } catch (err) {
      stream.close(); // the caller retries both, in order
      throw err;
    }
    this.#backoff.reset('events');
  }

  #onEvent(id: string | undefined, action: string | undefined): void {
    // exec_* events are the HEALTHCHECK's own probes: they change nothing we read.
    if (!id || action?.startsWith('exec_')) return;
    this.#serial(() => this.#refresh(id)).catch((err: unknown) => {
      this.#log.warn({ container: id.slice(0, 12), err: String(err) }, 'docker: inspecting container failed; the next listing repairs it');
    });
  }

  #onStreamEnd(err: Error): void {
    if (this.#closed) return;
    const retryMs = this.#backoff.next('events');
    this.#log.warn({ err: err.message, retryMs }, 'docker: events stream lost; keeping the last containers, reconnecting');
    this.#retryTimer = setTimeout(() => {
      this.#connect().catch((e: unknown) => this.#onStreamEnd(e instanceof Error ? e : new Error(String(e))));
    }, retryMs);
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #relist(): Promise<void> {
    const rows = await this.#client.listContainers(LABEL_PATH);
    const next = new Map<string, Entry>();
    for (const row of rows) {
      const info = await this.#client.inspect(row.Id);
      const m = info && containerManifest(info);
      if (m) next.set(row.Id, this.#entry(m, this.#entries.get(row.Id)));
    }
    const changed = next.size !== this.#entries.size || [...next].some(([id, e]) => this.#entries.get(id) !== e);
    this.#entries.clear();
    for (const [id, e] of next) this.#entries.set(id, e);
    this.#log.info({ containers: next.size }, 'docker: listed labelled containers');
    if (changed || !this.#emittedOnce) this.#publish();
  }

  async #refresh(id: string): Promise<void> {
    const info = await this.#client.inspect(id);
    const m = info && containerManifest(info);
    const prev = this.#entries.get(id);
    if (!m) {
      if (!prev) return;
      this.#entries.delete(id);
      this.#log.info({ container: prev.manifest.file }, 'docker: container gone or stopped');
    } else {
      const next = this.#entry(m, prev);
      if (next === prev) return;
      this.#entries.set(id, next);
      this.#log.info({ container: m.file, state: m.state }, 'docker: container changed');
    }
    this.#publish();
  }

  // Reuses the previous entry for identical text, so "changed" is an identity check.
  #entry(m: ContainerManifest, prev: Entry | undefined): Entry {
    if (prev && prev.manifest.file === m.file && prev.manifest.text === m.text) return prev;
    return { manifest: m, result: parseManifestText(m.text, m.file) };
  }

  #publish(): void {
    this.#emittedOnce = true;
    this.#emit?.(new Map([...this.#entries.values()].map((e) => [e.manifest.file, e.result])));
  }
}
