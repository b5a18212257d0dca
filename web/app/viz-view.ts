// The visualiser's view, as in the char-rnn post: the text coloured by one cell's activation
// (blue positive, red negative, stronger the larger), the model's five guesses for the next
// character on hover, and the cells that best track simple features of the text. It imports
// nothing, so `charrnn viz` can inline its compiled JavaScript into a standalone page; the data
// it reads is what src/inspect/encode.ts writes, whose shape is declared again here.

export interface VizPacked {
  type: 'int8' | 'uint8' | 'uint16';
  length: number;
  deflated: boolean;
  base64: string;
}

export interface VizRankedCell {
  layer: number;
  kind: 'h' | 'c';
  cell: number;
  r: number;
}

export interface VizJSON {
  format: 'charrnn-viz/1';
  title: string;
  model: { model: string; layers: number; hidden: number };
  symbols: string[];
  ids: VizPacked;
  guesses: { k: number; ids: VizPacked; probs: VizPacked; scale: number };
  traces: { layer: number; kind: 'h' | 'c'; scale: number; data: VizPacked }[];
  ranking: { feature: string; description: string; best: VizRankedCell[] }[];
}

type Ints = Int8Array | Uint8Array | Uint16Array;

/** VizJSON with its arrays unpacked. Traces are [hidden, N]: cell by cell. */
export interface VizData {
  json: VizJSON;
  ids: Ints;
  guessIds: Ints;
  guessProbs: Ints;
  traces: { layer: number; kind: 'h' | 'c'; scale: number; values: Ints }[];
}

export async function decodeViz(json: VizJSON): Promise<VizData> {
  if (json.format !== 'charrnn-viz/1') throw new Error(`not visualiser data (format ${String(json.format)})`);
  return {
    json,
    ids: await unpack(json.ids),
    guessIds: await unpack(json.guesses.ids),
    guessProbs: await unpack(json.guesses.probs),
    traces: await Promise.all(json.traces.map(async (t) => ({ layer: t.layer, kind: t.kind, scale: t.scale, values: await unpack(t.data) }))),
  };
}

async function unpack(p: VizPacked): Promise<Ints> {
  const raw = atob(p.base64);
  let bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  if (p.deflated) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  if (p.type === 'uint8') return bytes.subarray(0, p.length);
  if (p.type === 'int8') return new Int8Array(bytes.buffer, 0, p.length);
  const out = new Uint16Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  return out;
}

const CSS = `
.viz-controls { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: 0.5em 0; }
.viz-legend span { padding: 0 0.4em; }
.viz-body { display: flex; gap: 1em; align-items: flex-start; }
#viz { flex: 1; font: 14px/1.6 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap;
  word-break: break-all; border: 1px solid #ccc; background: #fff; padding: 0.5em; max-height: 70vh; overflow: auto; }
#viz .ch { cursor: default; }
#viz .ch:hover, #viz .ch.hovered { outline: 1px solid #000; }
#viz .nl { color: #999; }
#guesses { width: 14em; font: 14px ui-monospace, Menlo, Consolas, monospace; border: 1px solid #ccc; background: #fff; padding: 0.5em; }
#guesses .guess { display: flex; justify-content: space-between; padding: 0 0.3em; }
#guesses .guess.actual { outline: 1px solid #000; }
#guesses .where { margin-bottom: 0.3em; color: #555; }
#ranking { border-collapse: collapse; margin-top: 1em; }
#ranking td, #ranking th { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
#ranking .show-cell { margin: 0 0.3em 0.3em 0; font: 12px ui-monospace, Menlo, Consolas, monospace; }
#ranking .show-cell.selected { outline: 2px solid #000; }
`;

const SHOWN: Record<string, string> = { '\n': '↵', '\r': '␍', '\t': '⇥', ' ': '␣' };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

// Background for an activation in [−1, 1]: blue for positive, red for negative.
function activationColour(v: number): string {
  const a = Math.min(1, Math.abs(v)) * 0.85;
  return v >= 0 ? `rgba(40, 110, 250, ${a.toFixed(3)})` : `rgba(230, 50, 40, ${a.toFixed(3)})`;
}

function probabilityColour(p: number): string {
  return `rgba(30, 160, 70, ${(0.1 + 0.8 * p).toFixed(3)})`;
}

function cellKey(c: { layer: number; kind: string; cell: number }): string {
  return `${c.layer}/${c.kind}/${c.cell}`;
}

function cellName(c: { layer: number; kind: string; cell: number }): string {
  return `layer ${c.layer} ${c.kind === 'c' ? 'tanh(c)' : 'h'} ${c.cell}`;
}

/** Renders `data` into `root`, replacing what was there. */
export function renderViz(root: HTMLElement, data: VizData): void {
  const { json } = data;
  const N = data.ids.length, H = json.model.hidden, k = json.guesses.k;
  if (!document.getElementById('viz-style')) document.head.append(el('style', { id: 'viz-style', textContent: CSS }));

  const select = el('select', { id: 'cell-select' });
  for (const t of data.traces) {
    const group = el('optgroup', { label: `layer ${t.layer} · ${t.kind === 'c' ? 'tanh(c), the cell state' : 'h, the output'}` });
    for (let cell = 0; cell < H; cell++) group.append(el('option', { value: cellKey({ ...t, cell }), textContent: cellName({ ...t, cell }) }));
    select.append(group);
  }
  const swatch = (v: number): HTMLSpanElement => {
    const s = el('span', { textContent: v > 0 ? '+1' : '−1' });
    s.style.background = activationColour(v);
    return s;
  };
  const legend = el('span', { className: 'viz-legend' }, swatch(-1), ' 0 ', swatch(1));

  const text = el('div', { id: 'viz' });
  const spans: HTMLSpanElement[] = [];
  for (let i = 0; i < N; i++) {
    const sym = json.symbols[data.ids[i]];
    const span = el('span', { className: 'ch', textContent: sym === '\n' ? '↵' : sym === '\r' ? '␍' : sym });
    span.dataset.i = String(i);
    if (sym === '\n' || sym === '\r') span.classList.add('nl');
    spans.push(span);
    text.append(span);
    if (sym === '\n') text.append(el('br'));
  }

  const guesses = el('div', { id: 'guesses' }, el('div', { className: 'where', textContent: 'Hover over a character to see the model\'s guesses for the next one.' }));
  const ranking = rankingTable(json);
  root.replaceChildren(
    el('div', { className: 'viz-controls' }, el('label', {}, 'Cell ', select), legend),
    el('div', { className: 'viz-body' }, text, guesses),
    ranking);

  let current = data.traces[0];
  let cellIndex = 0;
  const show = (key: string): void => {
    const [layer, kind, cell] = key.split('/');
    const t = data.traces.find((x) => String(x.layer) === layer && x.kind === kind);
    const c = Number(cell);
    if (!t || !(c >= 0 && c < H)) return;
    current = t;
    cellIndex = c;
    select.value = key;
    const row = c * N;
    for (let i = 0; i < N; i++) spans[i].style.background = activationColour(t.values[row + i] * t.scale);
    ranking.querySelectorAll<HTMLButtonElement>('button.show-cell').forEach((b) => b.classList.toggle('selected', b.dataset.cell === key));
  };

  let hovered: HTMLElement | null = null;
  text.addEventListener('mouseover', (ev) => {
    const span = (ev.target as HTMLElement).closest<HTMLElement>('span.ch');
    if (!span || span === hovered) return;
    hovered?.classList.remove('hovered');
    hovered = span;
    span.classList.add('hovered');
    const i = Number(span.dataset.i);
    const sym = json.symbols[data.ids[i]];
    const value = current.values[cellIndex * N + i] * current.scale;
    const rows: HTMLElement[] = [el('div', { className: 'where', textContent: `after "${SHOWN[sym] ?? sym}" (${i}): ${cellName({ ...current, cell: cellIndex })} = ${value.toFixed(2)}; next:` })];
    for (let j = 0; j < k; j++) {
      const id = data.guessIds[i * k + j];
      const p = data.guessProbs[i * k + j] * json.guesses.scale;
      const g = json.symbols[id];
      const row = el('div', { className: 'guess' }, el('span', { textContent: SHOWN[g] ?? g }), el('span', { textContent: `${(p * 100).toFixed(1)}%` }));
      row.style.background = probabilityColour(p);
      if (i + 1 < N && data.ids[i + 1] === id) row.classList.add('actual');
      rows.push(row);
    }
    guesses.replaceChildren(...rows);
  });
  select.addEventListener('change', () => show(select.value));
  ranking.addEventListener('click', (ev) => {
    const b = (ev.target as HTMLElement).closest<HTMLButtonElement>('button.show-cell');
    if (b?.dataset.cell) show(b.dataset.cell);
  });

  const best = json.ranking.flatMap((f) => f.best).sort((a, b) => Math.abs(b.r) - Math.abs(a.r))[0];
  show(best ? cellKey(best) : cellKey({ ...data.traces[0], cell: 0 }));
}

function rankingTable(json: VizJSON): HTMLTableElement {
  const body = el('tbody');
  for (const f of json.ranking) {
    const cells = el('td');
    if (f.best.length === 0) cells.textContent = 'constant in this text';
    for (const c of f.best) {
      const b = el('button', { className: 'show-cell', title: `show ${cellName(c)}`, textContent: `${cellName(c)}: r = ${c.r >= 0 ? '+' : ''}${c.r.toFixed(2)}` });
      b.dataset.cell = cellKey(c);
      cells.append(b);
    }
    body.append(el('tr', {}, el('td', { textContent: f.feature }), el('td', { textContent: f.description }), cells));
  }
  return el('table', { id: 'ranking' },
    el('caption', { textContent: 'Cells that track a feature of the text (Pearson correlation over its characters)' }),
    el('thead', {}, el('tr', {}, el('th', { textContent: 'feature' }), el('th', { textContent: 'meaning' }), el('th', { textContent: 'best cells' }))),
    body);
}
