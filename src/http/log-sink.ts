import { Counter } from 'prom-client';

/** Unwritten log bytes allowed to queue behind a slow reader (some 5,000 access lines); newer lines are dropped. */
const backlogLimitBytes = 1 << 20;

/** What the sink writes to: process.stdout, or a stand-in for it. */
export interface LogOutput {
  readonly writableLength: number;
  write(line: string): boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'drain' | 'error', listener: () => void): unknown;
  off(event: 'drain' | 'error', listener: () => void): unknown;
}

/**
 * The log destination: a log line must never stop the service, nor stop it from exiting (issue 18).
 *
 * Not pino's default destination (sonic-boom, asynchronous, on fd 1), because of an upstream defect: in sonic-boom
 * 4.2.1, `flushSync` and `flushBufferSync` retry every failed write forever (the catch rethrows only a refused
 * EAGAIN/EBUSY retry, then sleeps 100 ms and loops), and pino 10.4 calls `flushSync` from a process 'exit' handler.
 * A reader that goes away (EPIPE) or stops reading (EAGAIN on a full pipe) therefore hangs exit for good, and pino's
 * EPIPE guard never runs because the error is never emitted. Nor a synchronous destination: a full pipe would block
 * the event loop. When sonic-boom stops looping, `pino.destination({ sync: false, maxLength })` with a 'drop' and an
 * EPIPE handler could replace this class.
 *
 * Instead, lines go through process.stdout, which libuv writes without blocking when it is a pipe or a socket, and
 * which queues what the reader has not taken yet. Nothing flushes that queue at exit, so exit cannot hang on it. The
 * queue is bounded here: past `backlogLimitBytes` a line is dropped; after a write error (EPIPE) every line is. Both
 * are counted in `edgate_log_lines_dropped_total{reason="stalled"|"broken"}`. (A file is written synchronously by
 * Node and never queues; a terminal is synchronous too and out of scope.)
 */
export class LogSink {
  readonly droppedLines = new Counter({
    name: 'edgate_log_lines_dropped_total',
    help: 'Log lines dropped because stdout stalled (backlog over 1 MiB) or broke (write error such as EPIPE)',
    labelNames: ['reason'],
    registers: [],
  });
  private broken = false;

  constructor(private readonly out: LogOutput) {
    // Node turns an unheard stdout error into an uncaught exception; this listener is also how a broken pipe is seen.
    out.on('error', () => (this.broken = true));
    this.droppedLines.inc({ reason: 'stalled' }, 0);
    this.droppedLines.inc({ reason: 'broken' }, 0);
  }

  write(line: string): void {
    if (this.broken) return this.droppedLines.inc({ reason: 'broken' });
    if (this.out.writableLength > backlogLimitBytes) return this.droppedLines.inc({ reason: 'stalled' });
    try {
      this.out.write(line);
    } catch {
      // A file's synchronous write (ENOSPC, EIO) throws here instead of emitting 'error'.
      this.broken = true;
      this.droppedLines.inc({ reason: 'broken' });
    }
  }

  /** Waits, at most `ms`, for queued lines to reach the reader (or fail to), so a clean exit keeps its last lines. */
  async drained(ms: number): Promise<void> {
    if (this.broken || this.out.writableLength === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.out.off('drain', done);
        this.out.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.out.once('drain', done);
      this.out.once('error', done);
    });
  }
}

let stdoutSink: LogSink | undefined;

/** One sink for the process's one stdout, however many loggers (in-process test apps) write to it. */
export function stdoutLog(): LogSink {
  stdoutSink ??= new LogSink(process.stdout);
  return stdoutSink;
}
