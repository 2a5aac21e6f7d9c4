/**
 * Stop cleanly on SIGINT/SIGTERM: run the stop function once, exit 0 when it
 * finishes; a second signal, or a stop that hangs for 10 s, exits at once.
 */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\n${signal}: stopping...\n`);
    const force = setTimeout(() => {
      process.stderr.write('stop took longer than 10 s; exiting\n');
      process.exit(1);
    }, 10_000);
    force.unref();
    stop().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
