import { err, ok } from '@playground/core';
import type { NodeId, Result, RpcFailure } from '@playground/core';
import type { Target, WriteRound } from './core/coordinator.js';
import type { ReadRound } from './core/read-round.js';
import type { PeerHealth } from './core/health.js';
import type { GetReply, PutReply } from './core/messages.js';

/**
 * The I/O half of the coordinator: sends what a pure round asks for, feeds back what comes
 * back, and tells it the time when its deadline passes. Time is wall-clock ms here; the
 * simulator drives the same rounds with virtual ticks.
 */
export function driveWrite(
  round: WriteRound,
  send: (target: Target, timeoutMs: number) => Promise<Result<PutReply, RpcFailure>>,
  health: PeerHealth,
): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (round.decision === undefined) return;
      clearTimeout(timer);
      resolve();
    };
    const dispatch = (target: Target): void => {
      void send(target, Math.max(1, round.deadlineTick - Date.now())).then((res) => {
        const next = res.ok ? round.onReply(target.node, res.value) : round.onFailure(target.node, res.error);
        if (res.ok) health.recordSuccess(target.node);
        else health.recordFailure(target.node, res.error);
        next.forEach(dispatch);
        finish();
      });
    };
    timer = setTimeout(() => {
      round.onTick(Date.now());
      finish();
    }, Math.max(0, round.deadlineTick - Date.now()));
    round.initialTargets().forEach(dispatch);
    finish();
  });
}

/**
 * Drives a read: summaries from every target, full states when the round asks for them.
 * `decided` resolves with the decision; `settled` once every target has answered or failed,
 * which is when read repair can tell who is stale.
 */
export function driveRead(
  round: ReadRound,
  fetch: (node: NodeId, full: boolean, timeoutMs: number) => Promise<Result<GetReply, RpcFailure>>,
  health: PeerHealth,
): { decided: Promise<void>; settled: Promise<void> } {
  let resolveDecided = (): void => undefined;
  let resolveSettled = (): void => undefined;
  const decided = new Promise<void>((r) => (resolveDecided = r));
  const settled = new Promise<void>((r) => (resolveSettled = r));
  const check = (): void => {
    // Every target may have sent its summary while the decision still waits for full states.
    const settledNow = round.settled || round.decision?.kind === 'unavailable';
    if (round.decision !== undefined) resolveDecided();
    if (settledNow) resolveSettled();
    if (settledNow && round.decision !== undefined) clearTimeout(timer);
  };
  const remainingMs = (): number => Math.max(1, round.deadlineTick - Date.now());
  const fetchState = (node: NodeId): void => {
    void fetch(node, true, remainingMs()).then((res) => {
      if (res.ok && res.value.versions !== undefined) round.onState(node, res.value.versions);
      else round.onFailure(node);
      check();
    });
  };
  const timer = setTimeout(() => {
    round.onTick(Date.now());
    resolveDecided();
    resolveSettled();
  }, Math.max(0, round.deadlineTick - Date.now()));
  for (const target of round.initialTargets()) {
    void fetch(target.node, false, remainingMs()).then((res) => {
      if (res.ok) {
        health.recordSuccess(target.node);
        round.onSummary(target.node, res.value).forEach(fetchState);
      } else {
        health.recordFailure(target.node, res.error);
        round.onFailure(target.node);
      }
      check();
    });
  }
  check();
  return { decided, settled };
}

/** A local handler as if it were a peer: its exceptions become a failure, not a crash of the round. */
export async function local<T>(run: () => Promise<T>): Promise<Result<T, RpcFailure>> {
  try {
    return ok(await run());
  } catch (e) {
    return err({ kind: 'remote_error', status: 500, message: (e as Error).message });
  }
}
