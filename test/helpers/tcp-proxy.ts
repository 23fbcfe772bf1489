/**
 * A loopback TCP proxy between the daemon and the broker that can stall the link: stall() stops forwarding in both
 * directions but keeps every socket open (a dead Wi-Fi link, a NAT that dropped its entry), resume() forwards what
 * waited, cut() closes every connection; latencyMs delays every chunk each way (a slow Wi-Fi link). It counts the
 * connections it accepted (the client's attempts).
 */
import net from 'node:net';

interface Pair {
  client: net.Socket;
  server: net.Socket;
}

export class StallProxy {
  port = 0;
  connections = 0;
  /** Added to every chunk, each way; chunks keep their order. */
  latencyMs = 0;
  private server: net.Server | null = null;
  private readonly pairs = new Set<Pair>();
  private stalled = false;

  constructor(private readonly targetPort: number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => this.accepted(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stops forwarding, new connections included; the sockets stay open and unread. */
  stall(): void {
    this.stalled = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.server.pause();
    }
  }

  resume(): void {
    this.stalled = false;
    for (const p of this.pairs) {
      p.client.resume();
      p.server.resume();
    }
  }

  /** Closes every connection (as a link that finally gives up); new ones are forwarded again. */
  cut(): void {
    this.stalled = false;
    for (const p of this.pairs) {
      p.client.destroy();
      p.server.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accepted(client: net.Socket): void {
    this.connections++;
    const server = net.connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { client, server };
    this.pairs.add(pair);
    // Not pipe(): a pipe resumes its source by itself when the other side drains, which would end a stall.
    const forward = (to: net.Socket) => (d: Buffer) => (this.latencyMs ? setTimeout(() => to.destroyed || to.write(d), this.latencyMs) : to.write(d));
    client.on('data', forward(server));
    server.on('data', forward(client));
    const end = () => {
      client.destroy();
      server.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    if (this.stalled) {
      client.pause();
      server.pause();
    }
  }
}
