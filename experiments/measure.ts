// The figures the experiments are about, measured on text: repetition within a sample, novel
// names, substrings copied from the training text, and the structure of code and LaTeX.

/** The fraction of a text's windows of length L that already occurred earlier in it: a looping sample is near 1. */
export function repeatedFraction(text: string, L: number): number {
  const seen = new Set<string>();
  let repeats = 0, total = 0;
  for (let i = 0; i + L <= text.length; i++) {
    const w = text.slice(i, i + L);
    total++;
    if (seen.has(w)) repeats++;
    else seen.add(w);
  }
  return total === 0 ? 0 : repeats / total;
}

/** The whole lines of sampled streams: the first (it may start mid-name) and the last (cut off) are dropped. */
export function sampledLines(samples: string[]): string[] {
  return samples.flatMap((s) => s.split('\n').slice(1, -1)).map((l) => l.trim()).filter((l) => l.length > 0);
}

export interface Novelty {
  total: number;
  novel: number;
  fraction: number;
  distinct: number;
  novelExamples: string[];
  knownExamples: string[];
}

export function novelty(names: string[], known: ReadonlySet<string>, examples = 24): Novelty {
  const novel = names.filter((n) => !known.has(n));
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  return {
    total: names.length, novel: novel.length, fraction: names.length === 0 ? 0 : novel.length / names.length,
    distinct: new Set(names).size,
    novelExamples: uniq(novel).slice(0, examples), knownExamples: uniq(names.filter((n) => known.has(n))).slice(0, examples),
  };
}

export interface Overlap {
  length: number;
  total: number; // windows of this length in the sample
  found: number; // of them, occurring verbatim in the reference text
  fraction: number;
}

/**
 * For each length L, the fraction of the sample's windows of length L found verbatim in the
 * reference: the windows go into a set, and one pass over the reference's windows marks them.
 */
export function overlap(samples: string[], reference: string, lengths: number[]): Overlap[] {
  return lengths.map((L) => {
    const windows = new Map<string, number>();
    let total = 0;
    for (const s of samples) {
      for (let i = 0; i + L <= s.length; i++) {
        const w = s.slice(i, i + L);
        windows.set(w, (windows.get(w) ?? 0) + 1);
        total++;
      }
    }
    let found = 0;
    for (let i = 0; i + L <= reference.length && windows.size > 0; i++) {
      const w = reference.slice(i, i + L);
      const n = windows.get(w);
      if (n !== undefined) {
        found += n;
        windows.delete(w);
      }
    }
    return { length: L, total, found, fraction: total === 0 ? 0 : found / total };
  });
}

export interface Brackets {
  pairs: number; // closers that closed an opener
  mismatched: number; // of them, closing an opener of another kind: ( with ] or }
  strayClosers: number; // closers with nothing open
  unclosed: number; // openers still open at the end
  maxDepth: number;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set([')', ']', '}']);

/**
 * Bracket structure of C code, outside strings, character literals and comments (a '(' inside
 * "..." is text, not code): a stack of openers, each closer checked against the innermost.
 */
export function cBrackets(code: string): Brackets {
  const stack: string[] = [];
  const r: Brackets = { pairs: 0, mismatched: 0, strayClosers: 0, unclosed: 0, maxDepth: 0 };
  for (const c of codeOnly(code)) {
    if (OPEN[c]) {
      stack.push(c);
      r.maxDepth = Math.max(r.maxDepth, stack.length);
    } else if (CLOSERS.has(c)) {
      const o = stack.pop();
      if (o === undefined) r.strayClosers++;
      else {
        r.pairs++;
        if (OPEN[o] !== c) r.mismatched++;
      }
    }
  }
  r.unclosed = stack.length;
  return r;
}

/** The characters of C code with strings, character literals and comments blanked out (newlines kept). */
export function codeOnly(code: string): string {
  let out = '';
  let mode: 'code' | 'string' | 'char' | 'line' | 'block' = 'code';
  for (let i = 0; i < code.length; i++) {
    const c = code[i], next = code[i + 1];
    switch (mode) {
      case 'code':
        if (c === '/' && next === '*') { mode = 'block'; i++; out += '  '; continue; }
        if (c === '/' && next === '/') { mode = 'line'; i++; out += '  '; continue; }
        if (c === '"') mode = 'string';
        else if (c === '\'') mode = 'char';
        out += mode === 'code' ? c : ' ';
        continue;
      case 'string':
      case 'char':
        if (c === '\\') { out += next === '\n' ? ' \n' : '  '; i++; continue; }
        if (c === '\n' || c === (mode === 'string' ? '"' : '\'')) mode = 'code';
        break;
      case 'line':
        if (c === '\n') mode = 'code';
        break;
      case 'block':
        if (c === '*' && next === '/') { mode = 'code'; i++; out += '  '; continue; }
        break;
    }
    out += c === '\n' ? '\n' : ' ';
  }
  return out;
}

export interface Indentation {
  lines: number; // non-blank lines
  indented: number;
  tabsOnly: number; // indented lines whose indentation is tabs only (the kernel's style)
  matchesDepth: number; // lines whose count of leading tabs is the brace depth there
  depthLines: number; // lines where that is checked: not inside a comment, not a continuation
}

/**
 * Indentation of C code against its brace depth: a line's leading tabs should equal the number
 * of { open before it (one fewer on a line that starts with }). Labels, preprocessor lines and
 * lines continuing an unfinished statement (after a line ending in neither ; { } nor :, unless
 * they start with a brace) are indented by other rules and are not checked.
 */
export function cIndentation(code: string): Indentation {
  const bare = codeOnly(code).split('\n');
  const lines = code.split('\n');
  const r: Indentation = { lines: 0, indented: 0, tabsOnly: 0, matchesDepth: 0, depthLines: 0 };
  let depth = 0;
  let continuing = false;
  // A piece of code may start inside a function, at a depth it does not show; the count starts
  // at the first line that is at the top level for sure: one in column 0 that is not a label.
  let synced = false;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n], b = bare[n] ?? '';
    const content = b.trim();
    if (line.trim().length === 0) continue;
    r.lines++;
    const lead = /^[ \t]*/.exec(line)![0];
    if (lead.length > 0) {
      r.indented++;
      if (/^\t+$/.test(lead)) r.tabsOnly++;
    }
    const label = /^[A-Za-z_]\w*:\s*$/.test(content);
    if (!synced && lead.length === 0 && /^[A-Za-z_}]/.test(content) && !label) {
      synced = true;
      depth = content.startsWith('}') ? 1 : 0;
    }
    if (synced && content.length > 0 && !content.startsWith('#') && !label && (!continuing || /^[{}]/.test(content)) && /^\t*$/.test(lead)) {
      const want = Math.max(0, depth - (content.startsWith('}') ? 1 : 0));
      r.depthLines++;
      if (lead.length === want) r.matchesDepth++;
    }
    for (const c of b) {
      if (c === '{') depth++;
      else if (c === '}') depth = Math.max(0, depth - 1);
    }
    if (content.length > 0 && !content.startsWith('#')) continuing = !/[;{}:]$/.test(content) && !label;
  }
  return r;
}

export interface Environments {
  begins: number;
  ends: number;
  matched: number; // \end{X} closing the innermost open \begin{X}
  mismatched: number; // \end{Y} while the innermost open one is X
  strayEnds: number;
  unclosed: number;
}

/** \begin{X} … \end{X} nesting of LaTeX outside % comments. */
export function latexEnvironments(tex: string): Environments {
  const r: Environments = { begins: 0, ends: 0, matched: 0, mismatched: 0, strayEnds: 0, unclosed: 0 };
  const stack: string[] = [];
  const bare = tex.split('\n').map((l) => l.replace(/(^|[^\\])%.*$/, '$1')).join('\n');
  for (const m of bare.matchAll(/\\(begin|end)\{([^}\n]*)\}/g)) {
    if (m[1] === 'begin') {
      r.begins++;
      stack.push(m[2]);
    } else {
      r.ends++;
      const open = stack.pop();
      if (open === undefined) r.strayEnds++;
      else if (open === m[2]) r.matched++;
      else r.mismatched++;
    }
  }
  r.unclosed = stack.length;
  return r;
}

/** Consecutive pieces of a text of `length` characters, each starting at a line start. */
export function excerpts(text: string, count: number, length: number): string[] {
  const out: string[] = [];
  const stride = Math.max(1, Math.floor((text.length - length) / Math.max(1, count)));
  for (let k = 0; k < count; k++) {
    let start = Math.min(k * stride, Math.max(0, text.length - length));
    const nl = text.indexOf('\n', start);
    if (nl >= 0 && nl + 1 < text.length - length / 2) start = nl + 1;
    out.push(text.slice(start, start + length));
  }
  return out;
}

/** Curly braces of LaTeX outside % comments, \{ and \} excluded: the same counts as cBrackets. */
export function texBraces(tex: string): Brackets {
  const r: Brackets = { pairs: 0, mismatched: 0, strayClosers: 0, unclosed: 0, maxDepth: 0 };
  let depth = 0;
  for (const line of tex.split('\n')) {
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '\\') { i++; continue; }
      if (c === '%') break;
      if (c === '{') r.maxDepth = Math.max(r.maxDepth, ++depth);
      else if (c === '}') {
        if (depth === 0) r.strayClosers++;
        else { depth--; r.pairs++; }
      }
    }
  }
  r.unclosed = depth;
  return r;
}

/** Sums of counts over several texts. */
export function total<T extends object>(items: T[]): T {
  const out = {} as Record<string, number>;
  for (const it of items) for (const [k, v] of Object.entries(it)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out as T;
}
