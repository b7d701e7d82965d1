import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { writeEvents, type EventSink } from '../../src/http/sse.js';

/** A response whose socket fills after `capacity` writes and drains only when told. */
class FakeSink extends EventEmitter implements EventSink {
  written: string[] = [];
  ended = false;
  destroyed = false;
  get writableEnded() {
    return this.ended;
  }
  constructor(private capacity: number) {
    super();
  }
  write(chunk: string): boolean {
    this.written.push(chunk);
    return this.written.length % this.capacity !== 0;
  }
  end(chunk?: string) {
    if (chunk) this.written.push(chunk);
    this.ended = true;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('server-sent events writer', () => {
  it('stops writing when the socket is full and resumes on drain', async () => {
    const sink = new FakeSink(3);
    const done = writeEvents(sink, Array.from({ length: 10 }, (_, i) => ({ i })));
    for (let i = 0; i < 5; i++) await tick();
    expect(sink.written).toHaveLength(3);
    sink.emit('drain');
    for (let i = 0; i < 5; i++) await tick();
    expect(sink.written).toHaveLength(6);
    sink.emit('drain');
    await tick();
    sink.emit('drain');
    await tick();
    sink.emit('drain');
    expect(await done).toBe(true);
    expect(sink.written.at(-1)).toBe('data: [DONE]\n\n');
    expect(sink.written).toHaveLength(11);
  });

  it('gives up when the client goes away, holding nothing more', async () => {
    const sink = new FakeSink(2);
    let produced = 0;
    function* many() {
      for (;;) {
        produced += 1;
        yield { produced };
      }
    }
    const done = writeEvents(sink, many());
    await tick();
    sink.destroyed = true;
    sink.emit('close');
    expect(await done).toBe(false);
    expect(sink.ended).toBe(false);
    expect(produced).toBeLessThanOrEqual(3);
  });

  it('yields to the event loop between batches', async () => {
    const sink = new FakeSink(Number.MAX_SAFE_INTEGER);
    let ranBetween = false;
    const done = writeEvents(sink, Array.from({ length: 200 }, (_, i) => i));
    setImmediate(() => (ranBetween = sink.written.length < 200));
    await done;
    expect(ranBetween).toBe(true);
  });
});
