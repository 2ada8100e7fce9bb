/** The Proxy conformance suite against the in-memory proxy. */
import { MemoryProxy } from '../src/proxy/memory-proxy.ts';
import { proxyConformance } from './proxy-conformance.ts';

proxyConformance('memory', async () => ({ proxy: new MemoryProxy(), teardown: async () => undefined }));
