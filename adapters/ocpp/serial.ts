/**
 * Runs async jobs one after another, in submission order. OCPP-J allows one
 * outstanding CALL per direction of a socket, so every sender on a socket
 * (forwards, replay, the gateway's own calls) takes its turn here.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => {});
    return next;
  }
}
