// Import-cycle check (`npm run check:cycles`): no module may import itself through others, and no two
// folders of lib/ may import each other (directly or around a loop), type-only imports included, since
// both tie the layers together. Files are parsed by dpdm; exits 1 listing every cycle, 0 when there are none.
//   node --import tsx scripts/check-cycles.ts [--root DIR]
import { relative, resolve } from 'node:path';
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm';

/** The unit a file belongs to at folder level: `lib/<folder>` (or `lib/<file>` at the top of lib/); null outside lib/. */
export function folderOf(file: string): string | null {
  const parts = file.split('/');
  if (parts[0] !== 'lib' || parts.length < 2) return null;
  return parts.length === 2 ? `lib/${parts[1].replace(/\.ts$/, '')}` : `lib/${parts[1]}`;
}

/** Strongly connected components with more than one member (Tarjan), members and components sorted. */
export function loops(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

export interface CycleReport {
  /** File-level cycles, each as the files around the loop. */
  files: string[][];
  /** Folder-level loops of lib/, each with the imports that make it (`from → to (file → file)`). */
  folders: { folders: string[]; imports: string[] }[];
}

/** A cycle turned to start at its smallest file, so the report does not depend on the order files were read in. */
function fromSmallest(cycle: string[]): string[] {
  const first = cycle.indexOf([...cycle].sort()[0]);
  return [...cycle.slice(first), ...cycle.slice(0, first)];
}

/** The cycles among the dependency tree's project files (paths relative to the root, node_modules ignored). */
export function findCycles(tree: DependencyTree): CycleReport {
  const files = parseCircular(tree)
    .map(fromSmallest)
    .sort((a, b) => a.join('\n').localeCompare(b.join('\n')));
  const edges = new Map<string, Set<string>>();
  const why = new Map<string, string[]>();
  for (const [issuer, deps] of Object.entries(tree)) {
    const from = folderOf(issuer);
    if (from === null || deps === null) continue;
    for (const d of deps) {
      const to = d.id === null ? null : folderOf(d.id);
      if (to === null || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      const key = `${from} → ${to}`;
      why.set(key, [...(why.get(key) ?? []), `${issuer} → ${d.id}`]);
    }
  }
  const folders = loops(edges).map((members) => {
    const inside = new Set(members);
    const imports = [...why.entries()]
      .filter(([key]) => {
        const [a, b] = key.split(' → ');
        return inside.has(a) && inside.has(b);
      })
      .map(([key, list]) => `${key} (${list.join(', ')})`)
      .sort();
    return { folders: members, imports };
  });
  return { files, folders };
}

/** Parses every TypeScript/JavaScript file of the project under `root`. */
export async function projectTree(root: string): Promise<DependencyTree> {
  const globs = ['lib/**/*.ts', 'analyses/**/*.ts', 'bin/*.js', 'scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'];
  return parseDependencyTree(globs, {
    cwd: root,
    context: root,
    transform: false, // keep type-only imports: they are part of the layering too
    exclude: /node_modules|notebooks\/kernel/,
    include: /\.[cm]?[jt]s$/,
    skipDynamicImports: false,
  });
}

if (process.argv[1] === import.meta.filename) {
  const at = process.argv.indexOf('--root');
  const root = resolve(at > 0 ? process.argv[at + 1] : '.');
  const tree = await projectTree(root);
  const r = findCycles(tree);
  const n = Object.keys(tree).filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.includes('node_modules')).length;
  for (const c of r.files)
    console.log(`file cycle: ${[...c, c[0]].map((f) => relative(root, resolve(root, f))).join(' → ')}`);
  for (const c of r.folders) console.log(`folder cycle: ${c.folders.join(' ⇄ ')}\n  ${c.imports.join('\n  ')}`);
  if (r.files.length + r.folders.length === 0) {
    console.log(`no import cycles among ${n} files (file level, and between the folders of lib/)`);
  } else {
    console.log(`${r.files.length} file cycle(s), ${r.folders.length} folder cycle(s) among ${n} files`);
    process.exitCode = 1;
  }
}
