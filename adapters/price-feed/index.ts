import type { PriceSeriesFetcher } from '../../src/ports/price-feed.js';

export interface HttpPriceFetcherOptions {
  readonly url: string;
  /** Longest one fetch may take, ms. */
  readonly timeoutMs?: number;
}

/** The dynamic price series over HTTP(S): a GET of the configured URL; anything but 2xx rejects. */
export function createHttpPriceFetcher(opts: HttpPriceFetcherOptions): PriceSeriesFetcher {
  return {
    async fetchText() {
      const res = await fetch(opts.url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      return res.text();
    },
  };
}
