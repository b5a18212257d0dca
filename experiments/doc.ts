// docs/experiments.md: one section per experiment between its own markers, so each experiment
// rewrites only its section and the others stay as their last runs left them.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../src/node/atomic-write.js';
import { dirname } from 'node:path';

export const SECTIONS: ReadonlyArray<{ name: string; title: string }> = [
  { name: 'shakespeare', title: 'Shakespeare, and what the temperature does' },
  { name: 'evolution', title: 'War and Peace: how the samples evolve while training' },
  { name: 'names', title: 'Baby names: how many sampled names are new' },
  { name: 'linux', title: 'Linux source: brackets and indentation' },
  { name: 'latex', title: 'LaTeX: the algebraic geometry book' },
  { name: 'wikipedia', title: 'Wikipedia: bits per character' },
  { name: 'cells', title: 'Interpretable cells in the Linux model' },
  { name: 'gru-vs-lstm-vs-rnn', title: 'GRU, LSTM and vanilla RNN on the same budget' },
  { name: 'memorisation', title: 'Memorisation: how much of a sample is copied from the training text' },
];

const HEADER = `# Experiments

The experiments of Karpathy's post "The Unreasonable Effectiveness of Recurrent Neural Networks",
rerun with this project on one machine. Each section is written by its experiment,
\`npm run experiments -- NAME\` (the scripts are in \`experiments/\`), and rewritten only by it:
the command, the machine, the model and training settings, the wall time, the validation loss in
nats per character and in bits per character, the loss curves, samples, and the figure the
experiment is about. Every number below was measured by the run that wrote its section.
\`npm run experiments -- NAME --quick\` runs the same code in seconds on a tiny model and writes
to a temporary directory (the tests run it); \`--max-time S\` changes the training time per model.

The budgets are minutes on a 2-core CPU, where the post's models trained for hours or days
on a GPU, so the models here are smaller and their losses higher; each section says how its
figure compares with the post's. Most budgets are training time, so a run's iterations depend on
its speed (the chars/s column), which is lower when other work shares the cores.
`;

const begin = (name: string): string => `<!-- experiment:${name} -->`;
const end = (name: string): string => `<!-- /experiment:${name} -->`;

function skeleton(): string {
  return HEADER + SECTIONS.map((s) => `\n${begin(s.name)}\n${placeholder(s.name)}\n${end(s.name)}\n`).join('');
}

function placeholder(name: string): string {
  const s = SECTIONS.find((x) => x.name === name);
  return `## ${s?.title ?? name}\n\nNot run yet: \`npm run experiments -- ${name}\`.`;
}

/** Puts `body` between the markers of `name` in `file` (made with every section's markers if absent). */
export async function writeSection(file: string, name: string, body: string): Promise<void> {
  const doc = existsSync(file) ? await readFile(file, 'utf8') : skeleton();
  const b = doc.indexOf(begin(name)), e = doc.indexOf(end(name));
  const section = `${begin(name)}\n${body.trim()}\n${end(name)}`;
  const next = b >= 0 && e > b ? doc.slice(0, b) + section + doc.slice(e + end(name).length) : `${doc.trimEnd()}\n\n${section}\n`;
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, Buffer.from(next));
}

/** The text of the section `name` in a document, markers excluded; null when absent. */
export function readSection(doc: string, name: string): string | null {
  const b = doc.indexOf(begin(name)), e = doc.indexOf(end(name));
  return b >= 0 && e > b ? doc.slice(b + begin(name).length, e).trim() : null;
}

export function title(name: string): string {
  return `## ${SECTIONS.find((s) => s.name === name)?.title ?? name}`;
}

/** A fenced block that no run of backticks in the text can end early. */
export function fence(text: string, info = 'text'): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}${info}\n${text.replace(/\n+$/, '')}\n${f}`;
}

/** A Markdown table; cells have their pipes escaped and newlines flattened. */
export function table(header: string[], rows: string[][]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n') + '\n';
}

/** A section's parts, each a paragraph or block, one blank line apart. */
export function section(parts: string[]): string {
  return parts.map((p) => p.trim()).filter((p) => p.length > 0).join('\n\n') + '\n';
}
