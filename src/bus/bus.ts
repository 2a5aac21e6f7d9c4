/**
 * A small synchronous, typed publish/subscribe bus. Handlers run in
 * subscription order; a throwing handler is reported and never prevents the
 * others from running (one broken subscriber must not stop the control loop).
 */
export type Handler<T> = (payload: T) => void;

export class Bus<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<Handler<never>>>();

  constructor(private readonly onHandlerError: (event: string, err: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as Handler<never>);
    return () => this.off(event, handler);
  }

  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    this.handlers.get(event)?.delete(handler as Handler<never>);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const h of [...set]) {
      try {
        (h as Handler<Events[K]>)(payload);
      } catch (err) {
        this.onHandlerError(String(event), err);
      }
    }
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.handlers.get(event)?.size ?? 0;
  }
}
