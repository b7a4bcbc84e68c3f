/** Process signals for long-running commands. */

/**
 * Resolves with the first SIGTERM or SIGINT (a second one forces exit 130).
 * Taken first thing in a command, so a signal during start-up is not lost.
 */
export function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.once(sig, () => process.exit(130));
      resolve(sig);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
