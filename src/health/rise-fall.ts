/** The rise/fall counters of one check. */
export interface RiseFallState {
  readonly up: boolean;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
}

/** Every check starts DOWN: a service is not announced before it has proven itself. */
export const INITIAL_RISE_FALL: RiseFallState = { up: false, consecutiveSuccesses: 0, consecutiveFailures: 0 };

/**
 * Apply one check result (HAProxy/Nerve semantics): a DOWN check goes UP after `rise` consecutive
 * passes, an UP check goes DOWN after `fall` consecutive failures; any other result keeps the state.
 */
export function nextRiseFall(s: RiseFallState, passed: boolean, limits: { rise: number; fall: number }): RiseFallState {
  if (passed) {
    const consecutiveSuccesses = s.consecutiveSuccesses + 1;
    return { up: s.up || consecutiveSuccesses >= limits.rise, consecutiveSuccesses, consecutiveFailures: 0 };
  }
  const consecutiveFailures = s.consecutiveFailures + 1;
  return { up: s.up && consecutiveFailures < limits.fall, consecutiveSuccesses: 0, consecutiveFailures };
}
