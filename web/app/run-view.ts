// What the dashboard and the training page both show of a run: its figures in one line and
// its samples as cards.

export const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Fills `el` with "name value · name value · …". */
export function renderStats(el: HTMLElement, parts: [string, string][]): void {
  el.replaceChildren(...parts.flatMap(([name, value], i) => {
    const span = document.createElement('span');
    span.className = 'stat';
    const b = document.createElement('b');
    b.textContent = name;
    span.append(b, ` ${value}`);
    return i === 0 ? [span] : [' · ', span];
  }));
}

/** A sample as the timeline shows it, headed by its iteration (and its temperature when not 1). */
export function sampleElement(iter: number, text: string, temperature = 1): HTMLElement {
  const div = document.createElement('div');
  div.className = 'sample';
  div.dataset.iter = String(iter);
  const head = document.createElement('div');
  head.className = 'sample-iter';
  head.textContent = `iteration ${thousands(iter)}${temperature === 1 ? '' : ` · temperature ${temperature}`}`;
  const pre = document.createElement('pre');
  pre.textContent = text;
  div.append(head, pre);
  return div;
}
