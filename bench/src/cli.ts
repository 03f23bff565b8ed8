/**
 * `npm run bench -- [--topology raft|leaderless|crdt|etcd|all] [--scenario NAME|all] ...`
 * (see --help). Bad arguments: one line naming the flag and the allowed values, exit 2,
 * nothing started. Ctrl-C stops the runs and every process the bench started.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '@playground/node';
import { benchHelp, parseBenchArgs } from './args.js';
import { availableModules, consistencyFailures, knobsOf, resolvePlan, runBench, writeReadme } from './bench.js';
import { etcdVersion } from './etcd.js';
import { Progress } from './progress.js';
import { runCrdtFigures } from './crdt-figures.js';
import { runLeaderlessFigures } from './leaderless-figures.js';
import { runRaftFigures } from './raft-figures.js';

async function main(argv: readonly string[]): Promise<number> {
  const modules = await availableModules();
  const knobs = knobsOf(modules);
  const uniqueKnobs = [...new Map(knobs.map((k) => [k.spec.name, k.spec])).values()];
  const etcdInstalled = etcdVersion() !== null;
  let options;
  let plan;
  try {
    options = parseBenchArgs(argv, uniqueKnobs, process.env, etcdInstalled);
    if (options.help) {
      process.stdout.write(`${benchHelp(knobs)}\n`);
      return 0;
    }
    const explicit = argv.some((a) => a === '--topology' || a.startsWith('--topology='));
    plan = resolvePlan(options, modules, explicit && !argv.includes('all') && !argv.some((a) => a.endsWith('=all')));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // the exit hooks still kill every node and etcd member
    process.stderr.write(`\nbench: ${signal}: stopping the runs and every process the bench started (again to force)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const given = (flag: string): boolean => argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
  const figuresTopology = options.figures ? (options.topologies[0] ?? 'raft') : null;
  if (figuresTopology === 'leaderless' || figuresTopology === 'crdt') {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const durationS = given('duration') ? options.durationS : figuresTopology === 'leaderless' ? 4 : 5;
    const connections = given('connections') && options.connections > 0 ? options.connections : figuresTopology === 'leaderless' ? 32 : 64;
    const report =
      figuresTopology === 'leaderless'
        ? await runLeaderlessFigures({ durationS, connections, knobs: options.knobs, log, signal: controller.signal })
        : await runCrdtFigures({
            durationS,
            connections,
            trials: given('trials') ? options.trials : 10,
            messagesRate: given('rate') ? options.rate : 300,
            knobs: options.knobs,
            log,
            signal: controller.signal,
          });
    const title = figuresTopology === 'leaderless' ? 'Leaderless figures: the cost of W and R with no faults (PACELC, the "else")' : 'CRDT figures: local acknowledgement, convergence after heal, delta vs full gossip';
    process.stdout.write(`\n${report.table}\n`);
    await mkdir(options.out, { recursive: true });
    const base = join(options.out, `${figuresTopology}-figures`);
    await writeFile(`${base}.md`, `# ${title}\n\nCommand: \`npm run bench -- ${argv.join(' ')}\`\n\n${report.table}\n`);
    await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`written: ${base}.md\n`);
    return controller.signal.aborted ? 130 : 0;
  }

  if (options.figures) {
    const report = await runRaftFigures({
      durationS: given('duration') ? options.durationS : 10,
      trials: options.trials,
      etcd: options.etcd,
      log: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    });
    process.stdout.write(`\n${report.table}\n`);
    await mkdir(options.out, { recursive: true });
    await writeFile(join(options.out, 'raft-figures.md'), `# Raft figures: this project's Raft and etcd side by side\n\nCommand: \`npm run bench -- ${argv.join(' ')}\`\n\n${report.table}\n`);
    await writeFile(join(options.out, 'raft-figures.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeReadme(options.out);
    process.stderr.write(`written: ${join(options.out, 'raft-figures.md')}\n`);
    return controller.signal.aborted ? 130 : 0;
  }

  const progress = new Progress();
  for (const s of plan.skipped) progress.log(`skipped ${s}`);
  progress.log(`bench: ${plan.topologies.join(', ')} x ${options.scenarios.join(', ')}; ${options.durationS} s per run at ${options.rate} ops/s; seed ${options.seed}; results in ${options.out}/`);
  try {
    const outcomes = await runBench(options, plan.topologies, plan.flags, { progress, signal: controller.signal });
    progress.stop();
    process.stderr.write(`${outcomes.length} run(s) written; comparison table: ${join(options.out, 'README.md')}\n`);
    const failures = consistencyFailures(outcomes, plan.flags);
    for (const f of failures) {
      process.stderr.write(`consistency FAIL: ${f.topology}/${f.scenario}: ${f.why}${f.byDesign ? ' (expected: --resolve lww drops concurrent increments)' : ''}\n`);
    }
    if (controller.signal.aborted) return 130;
    return failures.some((f) => !f.byDesign) ? 1 : 0;
  } finally {
    progress.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
