import type http from 'node:http';
import net, { type Socket } from 'node:net';

/** serving: normal; draining: answered with `Connection: close`; closing: refused with 503 SERVER_BUSY. */
export type DrainPhase = 'serving' | 'draining' | 'closing';

/**
 * The graceful drain of one HTTP server (Apollo Server's drainHttpServer and stoppable, sized to this
 * server): it tracks the open sockets from the start, and `stop()` walks the phases.
 */
export class Drain {
  private current: DrainPhase = 'serving';
  private readonly sockets = new Set<Socket>();

  constructor(private readonly server: http.Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get phase(): DrainPhase {
    return this.current;
  }

  /**
   * 1. draining: the listener closes (no new connections), but connections already open stay: a request
   *    sent on one is answered, with `Connection: close`, never reset (closing idle keep-alive sockets at
   *    once races with clients that are just sending on them);
   * 2. when every connection has closed, or `timeoutMs` has passed: closing: requests still arriving get
   *    503 SERVER_BUSY, idle sockets are closed, in-flight requests get a last second, then every socket
   *    is closed.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.current = 'draining';
    const server = this.server;
    // net.Server's close stops accepting without http.Server's closeIdleConnections() (see above). Not
    // awaited: its callback only comes once every connection has closed, which would hold the drain past
    // `timeoutMs` for as long as one client keeps a connection open.
    if (server.listening) net.Server.prototype.close.call(server);
    await this.untilNoSockets(timeoutMs);
    this.current = 'closing';
    server.closeIdleConnections();
    await this.untilNoSockets(1_000);
    server.closeAllConnections();
  }

  private untilNoSockets(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.sockets.size === 0) return resolve();
      const deadline = setTimeout(finish, timeoutMs);
      const poll = setInterval(() => this.sockets.size === 0 && finish(), 20);
      function finish() {
        clearTimeout(deadline);
        clearInterval(poll);
        resolve();
      }
    });
  }
}
