/**
 * A TCP proxy in front of one Kafka node (its advertised port, scripts/engines/chaos.sh with
 * CHAOS_PROXY_PORT): clients and the other brokers reach the node only through it. `pause()`
 * cuts the node off the network without telling anyone — bytes stop flowing both ways, no
 * connection is closed, new ones are accepted and left unanswered — as a broken switch or a
 * partition does; `resume()` heals it. The node still talks to the controllers directly, so
 * Kafka sees it alive: what the clients make of an unreachable but "healthy" broker is the test.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export class PausableProxy {
  readonly #server: Server;
  readonly #target: number;
  #pairs = new Set<Pair>();
  #paused = false;

  constructor(listenPort: number, targetPort: number) {
    this.#target = targetPort;
    this.#server = createServer((client) => this.#accept(client));
    this.#server.listen(listenPort, '127.0.0.1');
  }

  async listening(): Promise<void> {
    if (this.#server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('listening', resolve);
      this.#server.once('error', reject);
    });
  }

  #accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined };
    this.#pairs.add(pair);
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    if (this.#paused) client.pause();
    else this.#link(pair, drop);
  }

  #link(pair: Pair, drop: () => void): void {
    const upstream = connect(this.#target, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    if (this.#paused) this.#stop(pair);
  }

  #stop(pair: Pair): void {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  }

  pause(): void {
    this.#paused = true;
    for (const pair of this.#pairs) this.#stop(pair);
  }

  resume(): void {
    this.#paused = false;
    for (const pair of this.#pairs) {
      if (!pair.upstream) {
        this.#link(pair, () => {
          this.#pairs.delete(pair);
          pair.client.destroy();
          pair.upstream?.destroy();
        });
        pair.client.resume();
        continue;
      }
      pair.client.pipe(pair.upstream);
      pair.upstream.pipe(pair.client);
      pair.client.resume();
      pair.upstream.resume();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
