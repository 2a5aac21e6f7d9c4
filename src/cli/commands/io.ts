/** Where a CLI command writes and how it fails; tests pass their own. */
export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Sets the exit code; tests read it instead of exiting. */
  readonly fail: (code: number) => void;
}

/** The process's own stdout, stderr, environment and exit code. */
export const processIo: CommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  fail: (code) => {
    process.exitCode = code;
  },
};
