import { type ClientRequest, type IncomingMessage, request } from 'node:http';

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/** Minimal SSE reader over node:http for tests: collects frames, lets a test wait for a count. */
export class SseReader {
  readonly frames: SseFrame[] = [];
  private buf = '';
  private waiters: Array<() => void> = [];
  ended = false;
  req!: ClientRequest;
  res!: IncomingMessage;

  static open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const r = new SseReader();
    return new Promise((resolve, reject) => {
      r.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        r.res = res;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => r.feed(chunk));
        res.on('end', () => {
          r.ended = true;
          r.notify();
        });
        res.on('error', () => undefined);
        resolve(r);
      });
      r.req.on('error', reject);
      r.req.end();
    });
  }

  events(type?: string): SseFrame[] {
    return this.frames.filter((f) => f.event !== undefined && (type === undefined || f.event === type));
  }

  async waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timeout; have ${this.frames.length} frames`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.req.destroy();
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const i = this.buf.indexOf('\n\n');
      if (i < 0) break;
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const f: SseFrame = {};
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const c = line.indexOf(':');
        const k = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (k === 'id' || k === 'event' || k === 'data') {
          f[k] = v;
          any = true;
        }
      }
      if (any) this.frames.push(f);
    }
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
