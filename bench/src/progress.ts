/**
 * Progress per run: a cli-progress bar (phase, elapsed, ops, errors) on a terminal, plain
 * lines otherwise (CI logs, pipes).
 */
import cliProgress from 'cli-progress';
import type { Op } from '@playground/checkers';

export interface RunProgress {
  phase(name: string): void;
  op(op: Op): void;
  done(line: string): void;
}

export class Progress {
  private readonly multi: cliProgress.MultiBar | null;

  constructor(tty: boolean = process.stderr.isTTY === true) {
    this.multi = tty
      ? new cliProgress.MultiBar(
          {
            format: '{run} |{bar}| {phase} {elapsed}s/{total}s  ops {ops}  not ok {errors}',
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  run(name: string, durationS: number): RunProgress {
    const started = performance.now();
    let ops = 0;
    let errors = 0;
    let phase = 'starting';
    const elapsed = (): number => Math.min(durationS, Math.round((performance.now() - started) / 100) / 10);
    const bar = this.multi?.create(durationS, 0, { run: name.padEnd(28), phase, ops, errors, elapsed: 0 });
    const timer = bar ? setInterval(() => bar.update(elapsed(), { phase, ops, errors, elapsed: elapsed() }), 200) : null;
    timer?.unref();
    return {
      phase: (p) => {
        phase = p;
        if (!bar) this.log(`${name}: ${p} at ${elapsed()} s (ops ${ops}, not ok ${errors})`);
      },
      op: (op) => {
        ops++;
        if (op.outcome !== 'ok') errors++;
      },
      done: (line) => {
        if (timer) clearInterval(timer);
        bar?.update(durationS, { phase: 'done', ops, errors, elapsed: durationS });
        this.log(line);
      },
    };
  }

  stop(): void {
    this.multi?.stop();
  }
}
