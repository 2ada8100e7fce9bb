/**
 * Runs inside a host's network namespace (`ip netns exec NS node --import tsx netns-helper.ts ...`).
 *   gateway SOCK             the test process's way in: a Unix socket (filesystem, so reachable from
 *                            the root namespace without any network there); each client sends
 *                            "HOST PORT\n", gets "+\n" once the TCP connection from this host is up
 *                            (or "-reason\n"), then bytes are piped both ways.
 *   greet NAME ADDR PORT     a TCP backend that greets each connection with "NAME\n" and echoes.
 * Prints "ready" on stdout once listening.
 */
import { rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'gateway') {
  const server = createServer((client) => {
    client.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) return;
      client.off('data', onData);
      client.pause();
      const [host = '', port = ''] = head.slice(0, nl).split(' ');
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      const up = createConnection(Number(port), host);
      // A silent drop leaves SYNs unanswered for minutes: give up like a client would.
      up.setTimeout(10_000, () => up.destroy(new Error('connect timed out')));
      let connected = false;
      up.once('connect', () => {
        connected = true;
        up.setTimeout(0);
        client.write('+\n');
        if (rest.length) up.write(rest);
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
      up.on('error', (err) => (connected ? client.destroy() : client.end(`-${err.message}\n`)));
      up.on('close', () => client.destroy());
      client.on('close', () => up.destroy());
    };
    client.on('data', onData);
  });
  rmSync(args[0]!, { force: true }); // left by a gateway that was SIGKILLed (host death)
  server.listen(args[0], () => process.stdout.write('ready\n'));
} else if (mode === 'greet') {
  const [name, addr, port] = args;
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.write(`${name}\n`);
    s.pipe(s);
  });
  server.listen(Number(port), addr, () => process.stdout.write('ready\n'));
} else {
  process.stderr.write(`netns-helper: unknown mode ${mode}\n`);
  process.exit(2);
}
