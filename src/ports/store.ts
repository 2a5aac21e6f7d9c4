import type Database from 'better-sqlite3';

/**
 * The gateway's SQLite handle as components receive it. Components own their
 * tables (through their migrations) and never open a database themselves.
 */
export type Db = Database.Database;

/**
 * A named, append-only schema step. Each component owns its migrations
 * (ids prefixed with the component, e.g. `core-001-sessions`,
 * `ocpp-001-outbox`) and the composition root passes them all in.
 */
export interface Migration {
  readonly id: string;
  readonly sql: string;
}
