import { afterEach, describe, expect, it } from 'vitest';
import { startHttpFloor, type HttpFloor } from './http-floor.js';

describe('the HTTP floor server', () => {
  let floor: HttpFloor | null = null;
  afterEach(async () => {
    await floor?.stop();
    floor = null;
  });

  it('answers POST /incr like a node, counting, and stops on SIGTERM', async () => {
    floor = await startHttpFloor();
    const post = (): Promise<Response> => fetch(`${floor!.url}/incr`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await (await post()).json()).toMatchObject({ ok: true, key: 'counter', delta: 1, duplicate: false, value: 1 });
    expect(await (await post()).json()).toMatchObject({ value: 2 });
    const pid = floor.pid;
    await floor.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
