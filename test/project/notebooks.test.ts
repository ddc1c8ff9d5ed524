// The notebooks run headless, cell by cell, in the tslab kernel (Jupyter's nbclient), on the shipped default:
// any cell error fails the test. It needs nbclient (Debian's python3-nbclient) and the kernel package
// (notebooks/kernel/node_modules), which `npm run setup:system` installs; without them it skips, saying
// so. The kernelspec (the kernel.json `tslab install` writes; `tslab install` needs IPython, which nbclient
// does not) goes in a temporary JUPYTER_PATH. Also: the committed notebooks carry no outputs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertExit, ROOT, runCommand } from '../support/cli.ts';

const NOTEBOOKS = join(ROOT, 'notebooks');
const KERNEL_DIR = join(NOTEBOOKS, 'kernel');
const TSLAB = join(KERNEL_DIR, 'node_modules', '.bin', 'tslab');
const ORDER = ['01-find-otd-latents.ipynb', '02-ablation.ipynb']; // 02 ablates the latents 01 finds

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}
interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name: string } };
}

const joined = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join('') : (t ?? ''));
const readNotebook = (path: string): Notebook => JSON.parse(readFileSync(path, 'utf8'));

const hasNbclient = (python: string): boolean =>
  runCommand(python, ['-c', 'import nbclient, nbformat, jupyter_client']).status === 0;

/** A Python that imports nbclient, or null. */
const jupyterPython = (): string | null => ['python3', '/usr/bin/python3'].find(hasNbclient) ?? null;

/** Why the notebooks cannot run here (nbclient or the tslab kernel package missing), or null. */
function notebookSetupMissing(): string | null {
  const missing = [
    ...(jupyterPython() ? [] : ['no python3 imports nbclient (Debian: python3-nbclient; or pip install nbclient)']),
    ...(existsSync(join(KERNEL_DIR, 'node_modules', 'tslab', 'package.json'))
      ? []
      : ['the tslab kernel package is not installed (npm ci --prefix notebooks/kernel)']),
  ];
  return missing.length ? `${missing.join('; ')}: run npm run setup:system (see docs/notebooks.md)` : null;
}

// Executes one notebook in place of `out`; on a cell error prints the failing cell's outputs and exits 1.
const EXECUTE = `
import sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
src, out, cwd = sys.argv[1:4]
nb = nbformat.read(src, as_version=4)
# no deadline a loaded machine could reach: cells run as long as they take, and outputs that come after a
# cell's reply are waited for (nbclient's default drops those later than 4 s, silently)
client = NotebookClient(nb, kernel_name='tslab', timeout=None, startup_timeout=3600, iopub_timeout=3600,
                        raise_on_iopub_timeout=True, resources={'metadata': {'path': cwd}})
try:
    client.execute()
except CellExecutionError as e:
    failed = [c for c in nb.cells if c.get('execution_count') is not None][-1:]
    for c in failed:
        sys.stderr.write('--- failing cell ---\\n' + c.source + '\\n--- its output ---\\n')
        for o in c.get('outputs', []):
            sys.stderr.write(o.get('text', '') + o.get('evalue', ''))
    sys.stderr.write('\\n' + str(e)[:4000])
    sys.exit(1)
finally:
    nbformat.write(nb, out)
`;

test('committed notebooks carry no outputs and name the tslab kernel', () => {
  const found = readdirSync(NOTEBOOKS)
    .filter((f) => f.endsWith('.ipynb'))
    .sort();
  assert.deepEqual(found, ORDER);
  for (const name of found) {
    const nb = readNotebook(join(NOTEBOOKS, name));
    assert.equal(nb.metadata.kernelspec?.name, 'tslab', `${name}: kernelspec`);
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type !== 'code') continue;
      assert.deepEqual(cell.outputs, [], `${name} cell ${i}: outputs not stripped`);
      assert.equal(cell.execution_count, null, `${name} cell ${i}: execution_count not stripped`);
    }
  }
});

test('notebooks execute headless in the tslab kernel on the shipped default', (t) => {
  const missing = notebookSetupMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const python = jupyterPython()!;
  const tmp = mkdtempSync(join(tmpdir(), 'notebooks-'));
  const spec = join(tmp, 'jupyter', 'kernels', 'tslab');
  mkdirSync(spec, { recursive: true });
  writeFileSync(
    join(spec, 'kernel.json'),
    JSON.stringify({
      argv: [TSLAB, 'kernel', '--config-path', '{connection_file}'],
      display_name: 'TypeScript',
      language: 'typescript',
    }),
  );
  const env = { JUPYTER_PATH: join(tmp, 'jupyter'), JUPYTER_RUNTIME_DIR: join(tmp, 'runtime') };

  for (const name of ORDER) {
    const out = join(tmp, name);
    // a failing cell's source and outputs are on stderr; the executed notebook is `out`
    assertExit(
      runCommand(python, ['-c', EXECUTE, join(NOTEBOOKS, name), out, NOTEBOOKS], { env, runsDir: join(tmp, 'runs') }),
      0,
    );

    const outputs = readNotebook(out).cells.flatMap((c) => c.outputs ?? []);
    assert.deepEqual(
      outputs.filter((o) => o.output_type === 'error'),
      [],
      `${name}: error outputs`,
    );
    const stderr = outputs
      .filter((o) => o.name === 'stderr')
      .map((o) => joined(o.text))
      .join('');
    assert.doesNotMatch(stderr, /Error|Unhandled|Uncaught/, `${name}: errors on stderr`);
    const svgs = outputs.map((o) => joined(o.data?.['image/svg+xml'])).filter((s) => s !== '');
    assert.ok(svgs.length >= 3, `${name}: expected at least 3 figures inline, found ${svgs.length}`);
    assert.ok(
      svgs.every((s) => /^\s*<svg[\s\S]*<\/svg>\s*$/.test(s)),
      `${name}: a figure is not an SVG document`,
    );
    const tables = outputs.map((o) => joined(o.data?.['text/markdown'])).filter((m) => /^\|.*\|\n\|\s*-/m.test(m));
    assert.ok(tables.length >= 2, `${name}: expected Markdown tables inline, found ${tables.length}`);
  }

  // What the notebooks wrote is a complete discovery run and a complete ablation run.
  const runs = readdirSync(join(tmp, 'runs'));
  const discovery = runs.find((d) => d.startsWith('find-otd-latents-'));
  const ablation = runs.find((d) => d.startsWith('ablate-'));
  assert.ok(discovery && ablation, `run directories: ${runs.join(', ')}`);
  for (const f of ['latents.json', 'ranking.arrow', 'summary.md', 'report.html'])
    assert.ok(existsSync(join(tmp, 'runs', discovery, f)), `${discovery}/${f}`);
  for (const f of ['trials.jsonl', 'metrics.json', 'summary.md', 'report.html'])
    assert.ok(existsSync(join(tmp, 'runs', ablation, f)), `${ablation}/${f}`);
  const metrics = JSON.parse(readFileSync(join(tmp, 'runs', ablation, 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(metrics.conditions), ['baseline', 'ablate', 'random']);
  rmSync(tmp, { recursive: true, force: true });
});
