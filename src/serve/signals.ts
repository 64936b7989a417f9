/**
 * SIGTERM/SIGINT for `webvcm serve`: the first signal drains (server.close(), which returns within its drain
 * timeout), a second one exits at once, and a backstop exits if the drain overruns anyway.
 */
export interface SignalTarget {
  close(): Promise<void>;
  readonly drainTimeoutMs: number;
}

export interface SignalHooks {
  exit: (code: number) => void;
  log: (line: string) => void;
}

/** The handler to install for both signals. */
export function shutdownHandler(server: SignalTarget, hooks: SignalHooks, describe: () => string = () => ''): (sig: string) => void {
  let stopping = false;
  return (sig: string) => {
    if (stopping) {
      hooks.log(`webvcm serve: second ${sig}, exiting without waiting for the drain`);
      hooks.exit(1);
      return;
    }
    stopping = true;
    hooks.log(`webvcm serve: ${sig}, draining${describe()} (at most ${server.drainTimeoutMs} ms; send it again to exit at once)`);
    const backstop = setTimeout(() => {
      hooks.log('webvcm serve: the drain overran its timeout, exiting');
      hooks.exit(1);
    }, server.drainTimeoutMs + 2000);
    backstop.unref?.();
    server.close().then(
      () => {
        clearTimeout(backstop);
        hooks.exit(0);
      },
      (e: unknown) => {
        clearTimeout(backstop);
        hooks.log(`webvcm serve: ${(e as Error).message}`);
        hooks.exit(1);
      },
    );
  };
}
