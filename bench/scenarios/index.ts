/** Every scenario, in the order `npm run bench` runs them. */
import type { Scenario } from '../scenario.ts';
import { churn } from './churn.ts';
import { fleet } from './fleet.ts';
import { growthScenario } from './growth.ts';
import { instances } from './instances.ts';
import { directives } from './directives.ts';
import { footprint } from './footprint.ts';
import { processDeath } from './process-death.ts';
import { registeredRoutable } from './registered-routable.ts';
import { scale } from './scale.ts';

export const SCENARIOS: readonly Scenario[] = [registeredRoutable, churn, processDeath, scale, instances, growthScenario, footprint, directives, fleet];
