// Structured logs: one JSON object per line on stderr, so stdout stays for the lines operators and scripts read.
export type Log = (event: string, fields?: Record<string, unknown>) => void;

export function createLog(role: string, write: (line: string) => void = (l) => process.stderr.write(l)): Log {
  return (event, fields = {}) => {
    write(`${JSON.stringify({ t: new Date().toISOString(), role, event, ...fields })}\n`);
  };
}

export const silentLog: Log = () => {};
