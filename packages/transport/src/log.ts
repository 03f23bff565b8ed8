import type { Logger } from '@playground/core';

/** One JSON line per event on stderr: `{"ts","level","msg",...fields}`. */
export function stderrLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
