// Small deterministic texts for the browser tests, with what the visualiser's features look
// for: quoted speech, brackets and lines of bounded length.
const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'to', 'sea', 'it', 'was', 'grey', 'ship', 'came', 'home'];

export function practiceText(chars: number, seed = 1): string {
  let s = seed >>> 0;
  const next = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  const sentence = (): string => {
    const words = Array.from({ length: 3 + next(5) }, () => WORDS[next(WORDS.length)]);
    if (next(4) === 0) words.splice(1 + next(words.length - 1), 0, `(${WORDS[next(WORDS.length)]} ${WORDS[next(WORDS.length)]})`);
    const text = `${words.join(' ')}.`;
    return next(3) === 0 ? `"${text}"` : text;
  };
  const lines: string[] = [];
  let line = '';
  let length = 0;
  while (length < chars) {
    const piece = sentence();
    if (line.length + piece.length + 1 > 60) {
      lines.push(line);
      length += line.length + 1;
      line = piece;
    } else {
      line = line ? `${line} ${piece}` : piece;
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A text that repeats one line: a model learns it in a few hundred iterations. */
export function repetitiveText(chars: number): string {
  const line = 'the cat sat on the mat. the dog sat on the log.\n';
  return line.repeat(Math.ceil(chars / line.length));
}
