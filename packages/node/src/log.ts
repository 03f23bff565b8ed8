import type { Logger } from '@playground/core';

/** Plain, greppable lines on stderr: `n1 warn  message key=value`. Students read these. */
export function createLogger(id: string, stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>): void => {
    let line = `${new Date().toISOString()} ${id} ${level.padEnd(5)} ${message}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    }
    stream.write(`${line}\n`);
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
