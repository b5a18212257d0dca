// Simple properties of a text, one number per position, that an interpretable cell might track
// (the ones the char-rnn post found: quotes, line length, bracket depth, comments, words).
//
// Every feature describes the reader's situation AFTER reading position i, because that is
// what the hidden state at position i has seen: after an opening quote the reader is inside the
// quotes, after the closing one it is outside again. Positions are symbols of the model's
// vocabulary (characters, or bytes of a byte-level model); the symbols that matter here are
// ASCII, so the definitions hold for both.

export type FeatureName = 'quote' | 'column' | 'depth' | 'comment' | 'tex-comment' | 'word-start';

export interface Feature {
  name: FeatureName;
  description: string;
  values: Float32Array; // [N]
}

export const featureDescriptions: Readonly<Record<FeatureName, string>> = {
  quote: 'inside a double-quoted string',
  column: 'position in the line',
  depth: 'bracket depth: ( [ {',
  comment: 'inside a C comment: /* */ or //',
  'tex-comment': 'inside a LaTeX comment: % to the end of the line',
  'word-start': 'first character of a word',
};

export function textFeatures(symbols: readonly string[]): Feature[] {
  const of = (name: FeatureName, values: Float32Array): Feature => ({ name, description: featureDescriptions[name], values });
  return [
    of('quote', quote(symbols)), of('column', column(symbols)), of('depth', depth(symbols)),
    of('comment', cComment(symbols)), of('tex-comment', texComment(symbols)), of('word-start', wordStart(symbols)),
  ];
}

// 1 while an odd number of '"' have been read, counting only quotes not directly after a
// backslash (so \" inside a string does not end it). Quotes run across lines, as dialogue in
// prose does; the opening quote is 1, the closing quote 0.
export function quote(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let inside = false;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '"' && (i === 0 || s[i - 1] !== '\\')) inside = !inside;
    out[i] = inside ? 1 : 0;
  }
  return out;
}

// Symbols read since the last newline, this one included; a newline itself is 0 (the start of
// a new line). "ab\ncd" gives 1 2 0 1 2.
export function column(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let col = 0;
  for (let i = 0; i < s.length; i++) {
    col = s[i] === '\n' ? 0 : col + 1;
    out[i] = col;
  }
  return out;
}

// Brackets ( [ { opened and not yet closed, this position included; any of ) ] } closes the
// innermost one, whatever its kind, and a closer with nothing open is ignored. Brackets inside
// strings and comments count too. "f(a[1])" gives 0 1 1 2 2 1 0.
export function depth(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') d++;
    else if ((c === ')' || c === ']' || c === '}') && d > 0) d--;
    out[i] = d;
  }
  return out;
}

// 1 inside a C comment. "/*" opens a block comment at its '*', which is 1; the '/' of "*/"
// closes it and is 0, as is the first '/' of either opener (a lone '/' is division until the
// next symbol says otherwise). "//" opens a line comment at its second '/', up to (not
// including) the newline. Markers inside a double-quoted string do not count; such a string
// ends at an unescaped '"' or, since C strings cannot span lines, at a newline. Character
// literals are not recognised, so '"' opens a string.
export function cComment(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let mode: 'code' | 'string' | 'line' | 'block' = 'code';
  let slash = false; // the previous symbol was a '/' in code, which may begin a comment
  let blockStart = -1; // the position of the '*' that opened the current block comment
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    switch (mode) {
      case 'code':
        if (slash && c === '/') mode = 'line';
        else if (slash && c === '*') {
          mode = 'block';
          blockStart = i;
        } else if (c === '"') mode = 'string';
        slash = mode === 'code' && c === '/';
        break;
      case 'string':
        if (c === '\n' || (c === '"' && s[i - 1] !== '\\')) mode = 'code';
        break;
      case 'line':
        if (c === '\n') mode = 'code';
        break;
      case 'block':
        if (c === '/' && s[i - 1] === '*' && i - 1 > blockStart) mode = 'code';
        break;
    }
    out[i] = mode === 'line' || mode === 'block' ? 1 : 0;
  }
  return out;
}

// 1 from a '%' that does not follow a backslash (\% is a literal percent sign) up to, not
// including, the next newline.
export function texComment(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let inside = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\n') inside = false;
    else if (c === '%' && (i === 0 || s[i - 1] !== '\\')) inside = true;
    out[i] = inside ? 1 : 0;
  }
  return out;
}

const WORD = /^[\p{L}\p{N}_]$/u;

// 1 on a letter, digit or underscore (any script) whose previous symbol is none of those;
// 0 elsewhere. (positionSymbols shows the bytes of a multi-byte character as U+FFFD, which is
// none of those.)
export function wordStart(s: readonly string[]): Float32Array {
  const out = new Float32Array(s.length);
  let prevWord = false;
  for (let i = 0; i < s.length; i++) {
    const w = WORD.test(s[i]);
    out[i] = w && !prevWord ? 1 : 0;
    prevWord = w;
  }
  return out;
}
