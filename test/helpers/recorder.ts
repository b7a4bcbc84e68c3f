/**
 * Records what task steps did, in order, in this process: each step's start
 * and end as a global sequence, and its dependency outputs. Latches let a test
 * hold a step until it says so (waiting on a promise, never on time).
 */
export interface Event {
  seq: number;
  runId: string;
  step: string;
  what: 'start' | 'end';
}

export class Recorder {
  events: Event[] = [];
  private seq = 0;
  private readonly latches = new Map<string, { promise: Promise<void>; open: () => void }>();
  private readonly watchers: { pred: (e: Event) => boolean; resolve: () => void }[] = [];

  record(runId: string, step: string, what: Event['what']): void {
    const e = { seq: this.seq++, runId, step, what };
    this.events.push(e);
    for (const w of [...this.watchers]) {
      if (w.pred(e)) {
        this.watchers.splice(this.watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when an event matching `pred` is recorded (or already was). */
  waitFor(pred: (e: Event) => boolean, timeoutMs = 20_000): Promise<void> {
    if (this.events.some(pred)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a step event')), timeoutMs);
      this.watchers.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  latch(name: string): Promise<void> {
    let l = this.latches.get(name);
    if (!l) {
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      l = { promise, open };
      this.latches.set(name, l);
    }
    return l.promise;
  }

  open(name: string): void {
    void this.latch(name);
    this.latches.get(name)!.open();
  }

  of(runId: string, step: string, what: Event['what']): Event[] {
    return this.events.filter((e) => e.runId === runId && e.step === step && e.what === what);
  }
}
