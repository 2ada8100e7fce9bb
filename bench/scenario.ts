/** What a benchmark scenario is and what it hands back: markdown tables plus notes. */
import type { BenchEnv } from './bench-env.ts';

export type Size = 'smoke' | 'full';

/** One markdown table: a header row and string cells. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface ScenarioResult {
  readonly tables: readonly Table[];
  /** Goal verdicts and caveats, one line each. */
  readonly notes: readonly string[];
}

export interface Scenario {
  /** CLI name: `npm run bench -- NAME`. */
  readonly name: string;
  readonly title: string;
  run(env: BenchEnv, size: Size): Promise<ScenarioResult>;
}
