// The shape of src/ (issue 20): no import circle (type-only imports included), a small composition root,
// no function too long to read in one screen. Read with the TypeScript compiler API, as tsc parses it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');
const MAX_APP_LINES = 250;
const MAX_FUNCTION_LINES = 80;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');

/** A relative specifier as Node's resolution (moduleResolution: node) finds it among src/'s .ts files. */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

/** Every module a file names: imports and re-exports (type-only too), `import x = require()`, `import()` types. */
function importsOf(source: ts.SourceFile): string[] {
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) specifiers.push(expr.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specifiers.push(node.argument.literal.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) specifiers.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(parse(file))
      .map((s) => resolveLocal(file, s))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The import circles (Tarjan's strongly connected components of more than one module, or a module importing itself). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return cycles;
}

interface FunctionSpan {
  file: string;
  name: string;
  line: number;
  lines: number;
}

/** Every function, method, accessor, constructor and arrow with its body's length in lines (braces included). */
export function functionSpans(source: ts.SourceFile): FunctionSpan[] {
  const spans: FunctionSpan[] = [];
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : `<${ts.SyntaxKind[node.kind]}>`;
      spans.push({
        file: rel(source.fileName),
        name,
        line: lineOf(node.getStart(source)) + 1,
        lines: lineOf(body.getEnd()) - lineOf(body.getStart(source)) + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

describe('source shape (src/)', () => {
  const files = sourceFiles(SRC);

  it('finds the sources and their imports', () => {
    assert.ok(files.length > 40, `src/ holds ${files.length} .ts files`);
    const graph = importGraph(files);
    const app = graph.get(path.join(SRC, 'app.ts'));
    assert.ok(app?.includes(path.join(SRC, 'config.ts')), 'src/app.ts imports src/config.ts (a type-only import counts)');
  });

  it('finds a circle, and functions by their length (the checks themselves)', () => {
    const a = path.join(SRC, 'a.ts');
    const b = path.join(SRC, 'b.ts');
    const c = path.join(SRC, 'c.ts');
    assert.deepEqual(
      importCycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, [a]],
        ]),
      ),
      [[a, b, c]],
    );
    assert.deepEqual(importCycles(new Map([[a, [a]]])), [[a]], 'a module importing itself');
    assert.deepEqual(
      importCycles(
        new Map([
          [a, [b, c]],
          [b, [c]],
          [c, []],
        ]),
      ),
      [],
    );
    const text = ['function f() {', ...Array.from({ length: 3 }, () => '  g();'), '}', 'const h = () =>', '  1;'].join('\n');
    const spans = functionSpans(ts.createSourceFile(path.join(SRC, 'x.ts'), text, ts.ScriptTarget.ES2022, true));
    assert.deepEqual(
      spans.map((s) => [s.name, s.line, s.lines]),
      [
        ['f', 1, 5],
        ['<ArrowFunction>', 6, 1],
      ],
    );
  });

  it('has no import circle, type-only imports included', () => {
    const cycles = importCycles(importGraph(files)).map((c) => c.map(rel).join(' <-> '));
    assert.deepEqual(cycles, []);
  });

  it(`keeps src/app.ts at or under ${MAX_APP_LINES} lines`, () => {
    const lines = readFileSync(path.join(SRC, 'app.ts'), 'utf8').trimEnd().split('\n').length;
    assert.ok(lines <= MAX_APP_LINES, `src/app.ts has ${lines} lines`);
  });

  it(`has no function, method or arrow over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files
      .flatMap((file) => functionSpans(parse(file)))
      .filter((s) => s.lines > MAX_FUNCTION_LINES)
      .map((s) => `${s.file}:${s.line} ${s.name} (${s.lines} lines)`);
    assert.deepEqual(long, []);
  });
});
