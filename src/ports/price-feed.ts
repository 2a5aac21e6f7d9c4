/**
 * Where a dynamic price series document comes from (a JSON or CSV URL in
 * production: adapters/price-feed). The grid area parses it, keeps the last
 * good series and decides when to ask again.
 */
export interface PriceSeriesFetcher {
  /** The document's text; rejects when it cannot be had (the last good prices stay). */
  fetchText(): Promise<string>;
}
