import type { Socket } from 'node:net';

/**
 * Writes to a socket, coalesced per tick: the first write of a tick corks the socket and the
 * tick's end uncorks it, so that the frames of one turn of the event loop leave in one writev
 * instead of one syscall (and, with Nagle off, one packet) each.
 */
export class Corker {
  #corked = false;

  constructor(private readonly socket: Socket) {}

  write(bytes: Uint8Array): void {
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => this.flush());
    }
    this.socket.write(bytes);
  }

  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.socket.uncork();
  }
}
