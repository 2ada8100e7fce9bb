/**
 * Connection liveness for etcd3 over a link that drops packets silently (no RST), where gRPC would
 * wait on a dead TCP connection for minutes. Three parts, each what etcd3 and gRPC offer:
 * - gRPC keepalive pings while streams are open: a connection whose ping is not acked is closed,
 *   and every stream on it (watches included, however quiet) fails and is re-established.
 * - A deadline on streamed requests: a lease keepalive unanswered within a third of the TTL (2/3 of
 *   it since the last answer, as ZooKeeper's client does) cancels its stream as UNAVAILABLE, so
 *   etcd3 marks that member failed and keeps the lease alive through another before it expires.
 * - The same deadline on the first answer to a unary call. grpc-js 1.14 puts no timeout on a
 *   connection attempt (grpc/grpc-node#2785; the fix, #3071, is unreleased): one made into the
 *   silent link waits for HTTP/2 SETTINGS forever, and every call queued on that channel waited
 *   for its own deadline after the heal (registered again 20.8 s after it in 2 of 5 runs). Cancelled
 *   as UNAVAILABLE, etcd3 closes that member's channels and the retry dials afresh.
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

/** gRPC channel options: keepalive pings, and the answer deadline (`answerMs`) of streamed requests and unary calls. */
export function livenessChannelOptions(answerMs: number, onStall: (why: string) => void): ChannelOptions {
  return {
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    interceptors: [answerDeadline(answerMs, onStall)],
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
 * received stops it (a quiet stream, like an idle watch, sends nothing and is left to the keepalive
 * pings). A unary call's clock starts with the call and stops at the first thing received (the
 * response headers: a large response still being received counts as answered). Past `ms` the call
 * is cancelled as UNAVAILABLE. Other call shapes are not used by etcd3 and are left alone.
 */
function answerDeadline(ms: number, onStall: (why: string) => void): Interceptor {
  return (options, nextCall) => {
    const def = options.method_definition;
    const bidi = def.requestStream && def.responseStream;
    if (!bidi && (def.requestStream || def.responseStream)) return new InterceptingCall(nextCall(options));
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      timer = undefined;
    };
    const arm = (): void => {
      if (timer) return;
      timer = setTimeout(() => {
        const why = `${def.path} to ${call.getPeer()}: no answer within ${ms} ms`;
        onStall(why);
        call.cancelWithStatus(GrpcStatus.UNAVAILABLE, why);
      }, ms);
      timer.unref();
    };
    const call: InterceptingCall = new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (!bidi) arm();
        next(metadata, {
          onReceiveMetadata(md, nxt) {
            if (!bidi) stop();
            nxt(md);
          },
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
        if (bidi) arm();
        next(message);
      },
      halfClose(next) {
        if (bidi) stop();
        next();
      },
    });
    return call;
  };
}
