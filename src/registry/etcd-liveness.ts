/**
 * Connection liveness for etcd3 over a link that drops packets silently (no RST), where gRPC would
 * wait on a dead TCP connection for minutes. Three parts, each what etcd3 and gRPC offer:
 * - gRPC keepalive pings while streams are open: a connection whose ping is not acked is closed,
 *   and every stream on it (watches included, however quiet) fails and is re-established.
 * - A deadline on streamed requests: a lease keepalive unanswered within a third of the TTL (2/3 of
 *   it since the last answer, as ZooKeeper's client does) cancels its stream as UNAVAILABLE, so
 *   etcd3 marks that member failed and keeps the lease alive through another before it expires.
 * - A member marked failed is skipped for a while (a circuit breaker per host), so the retry does
 *   not pick the dead member again at random.
 */
import { InterceptingCall, status as GrpcStatus, type ChannelOptions, type Interceptor } from '@grpc/grpc-js';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { GRPCUnavailableError } from 'etcd3';

// etcd answers pings more often than its --grpc-keepalive-min-time (default 5 s) with GOAWAY.
const KEEPALIVE_TIME_MS = 5000;
const KEEPALIVE_TIMEOUT_MS = 2000;
// Long enough for the retry to reach another member; short enough that a lone member that
// restarts is asked again soon (etcd3's default breaker opens after 3 failures, for 5 s).
const HOST_QUARANTINE_MS = 2000;

/** gRPC channel options: keepalive pings, and the streamed-request deadline (`answerMs`). */
export function livenessChannelOptions(answerMs: number, onStall: (why: string) => void): ChannelOptions {
  return {
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    interceptors: [streamDeadline(answerMs, onStall)],
  };
}

/**
 * etcd3 `faultHandling.host`: one UNAVAILABLE (a dead connection, or a stream cancelled above)
 * takes a member out of rotation for a while; other errors say nothing about reachability.
 */
export function hostBreaker(): ReturnType<typeof circuitBreaker> {
  return circuitBreaker(handleWhen((e) => e instanceof GRPCUnavailableError), { halfOpenAfter: HOST_QUARANTINE_MS, breaker: new ConsecutiveBreaker(1) });
}

/**
 * On a bidirectional stream, a message sent while none is awaited starts a clock; any message
 * received stops it. Past `ms` the call is cancelled as UNAVAILABLE (a quiet stream, like an idle
 * watch, sends nothing and is left to the keepalive pings).
 */
function streamDeadline(ms: number, onStall: (why: string) => void): Interceptor {
  return (options, nextCall) => {
    const def = options.method_definition;
    if (!def.requestStream || !def.responseStream) return new InterceptingCall(nextCall(options));
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      timer = undefined;
    };
    const call: InterceptingCall = new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveMessage(message, nxt) {
            stop();
            nxt(message);
          },
          onReceiveStatus(status, nxt) {
            stop();
            nxt(status);
          },
        });
      },
      sendMessage(message, next) {
        if (!timer) {
          timer = setTimeout(() => {
            const why = `${def.path} to ${call.getPeer()}: no answer within ${ms} ms`;
            onStall(why);
            call.cancelWithStatus(GrpcStatus.UNAVAILABLE, why);
          }, ms);
          timer.unref();
        }
        next(message);
      },
      halfClose(next) {
        stop();
        next();
      },
    });
    return call;
  };
}
