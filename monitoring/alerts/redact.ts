/** Secrets (tokens, routing keys) never appear in logs or alerts: every text passes through a redactor. */
export type Redact = (text: string) => string;

export function redactor(secrets: readonly (string | undefined)[]): Redact {
  const list = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  return (text) => list.reduce((t, s) => t.split(s).join('***'), text);
}

export type Log = (line: string) => void;

/** A logger whose every line is redacted first. */
export function redactedLog(redact: Redact, write: Log = (l) => console.error(l)): Log {
  return (line) => write(redact(line));
}
