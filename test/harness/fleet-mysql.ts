/** The seed's MySQL scenario on simulated hosts: its manifests, and one query through a host's listener. */
import mysql from 'mysql2/promise';
import type { NsHost } from './netns-hosts.ts';
import { service, subscription } from './static-source.ts';

/** A Service registering the MariaDB on `port` while it answers a handshake as haproxy_check. */
export const mysqlService = (port: number): string =>
  service('mysql', `path: /services/mysql\nport: ${port}\nchecks:\n  - { type: mysql, user: haproxy_check, intervalMs: 300, rise: 1, fall: 1 }`);

/** A Subscription on 127.0.0.1:`listen` with HAProxy's mysql-check as haproxy_check. */
export const mysqlSubscription = (listen: number): string =>
  subscription('mysql', `service: /services/mysql\nlisten: { address: 127.0.0.1, port: ${listen} }\ncheck: { type: mysql, user: haproxy_check, interMs: 300, rise: 1, fall: 1 }`);

/** One query from `h` through its local listener on `listen`; answers which server's address served it. */
export async function queryFrom(h: NsHost, listen: number): Promise<string> {
  const stream = await h.connect(listen, '127.0.0.1', 2000);
  const conn = await mysql.createConnection({ stream, user: 'root', connectTimeout: 2000 });
  try {
    const [rows] = await conn.query('SELECT @@bind_address AS b');
    return String((rows as Array<{ b: unknown }>)[0]?.b);
  } finally {
    conn.destroy();
  }
}
