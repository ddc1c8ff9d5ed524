// Progress of long loops: a live bar with count, rate and ETA on a terminal (cli-progress), and plain
// periodic lines when stderr is not a terminal (CI logs, files).
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Marks `n` more units done. */
  tick(n?: number): void;
  /** Ends the display (prints a final line when not on a terminal). */
  done(): void;
}

const LINE_EVERY_MS = 10_000;

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let count = 0;
  const rate = () => count / Math.max((Date.now() - started) / 1000, 1e-3);
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      etaBuffer: 20,
      hideCursor: true,
      clearOnComplete: false,
    });
    bar.start(total, 0, { rate: '0.0' });
    return {
      tick(n = 1) {
        count += n;
        bar.update(count, { rate: rate().toFixed(1) });
      },
      done() {
        bar.stop();
      },
    };
  }
  let lastLine = started;
  const line = () => {
    const eta = count > 0 ? Math.round((total - count) / rate()) : null;
    stream.write(
      `${label}: ${count}/${total} (${Math.round((100 * count) / Math.max(total, 1))}%), ${rate().toFixed(1)}/s${eta === null ? '' : `, ETA ${eta} s`}\n`,
    );
  };
  return {
    tick(n = 1) {
      count += n;
      if (Date.now() - lastLine >= LINE_EVERY_MS) {
        lastLine = Date.now();
        line();
      }
    },
    done() {
      line();
    },
  };
}
