// npm run bench: our training and sampling speed and memory on the standard configurations
// (S and M on the CPU; S, M, L and XL with --backend webgpu), each peer measured in the same
// run on the same machine, one table out.
// Every measurement runs in its own child process under /usr/bin/time -v, so the peak RSS
// is that of the whole process and no measurement inherits another's heap or JIT state.
// See docs/benchmarks.md for the method.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGS, DATA } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.cwd();

// The GPU configurations are measured when ours runs on the GPU.
const defaultConfigs = (backend) => (backend === 'webgpu' ? ['S', 'M', 'L', 'XL'] : ['S', 'M']);

const PEERS = {
  // PyTorch's two thread pools (its own intra-op one and OpenBLAS's) oversubscribe two cores
  // when both take 2 threads: that ran S at a quarter of the speed here. So the peer runs
  // each way that does not oversubscribe, and the table shows both.
  torch: { label: 'PyTorch', kind: 'python', script: 'peers/torch_lstm.py', threads: 2, env: { OPENBLAS_NUM_THREADS: '1' } },
  'torch-blas': { label: 'PyTorch (BLAS threads)', kind: 'python', script: 'peers/torch_lstm.py', threads: 1, env: { OPENBLAS_NUM_THREADS: '2' } },
  'tfjs-cpu': { label: 'TF.js cpu', kind: 'node', script: 'peers/tfjs.mjs', variant: 'cpu' },
  'tfjs-wasm': { label: 'TF.js wasm', kind: 'node', script: 'peers/tfjs.mjs', variant: 'wasm' },
  'tfjs-node': { label: 'TF.js node', kind: 'node', script: 'peers/tfjs.mjs', variant: 'node' },
  // Our own reference backend, as a yardstick for a faster one; dropped when ours is js.
  'charrnn-js': { label: 'charrnn js backend', kind: 'ours', backend: 'js' },
  // The GPU peers: PyTorch with cuDNN on a CUDA GPU, in fp32 (as our kernels) and with TF32.
  'torch-cuda': { label: 'PyTorch cuDNN', kind: 'python-gpu', script: 'peers/torch_cuda.py', spec: { tf32: false } },
  'torch-cuda-tf32': { label: 'PyTorch cuDNN TF32', kind: 'python-gpu', script: 'peers/torch_cuda.py', spec: { tf32: true } },
};
const GPU_PEERS = ['torch-cuda', 'torch-cuda-tf32'];
const defaultPeers = (backend) => (backend === 'webgpu' ? GPU_PEERS : Object.keys(PEERS).filter((p) => !GPU_PEERS.includes(p)));

const USAGE = `usage: node bench/run.mjs [--config S|M|L|XL|all] [--backend js|wasm|webgpu|auto] [--quick] [--json]
                         [--measure train|sample|all] [--peers ${Object.keys(PEERS).join(',')}] [--cap SECONDS]
  --config   which standard configuration to train (default all: S and M, with webgpu also L and XL;
             S with --quick)
  --backend  our backend (default auto: wasm when built, else js); webgpu needs the npm package
             webgpu and a GPU, and runs beside PyTorch with cuDNN (python3 on PATH or
             $CHARRNN_PYTHON) instead of the CPU peers
  --quick    a smoke run: 1 warm-up and 3 timed iterations, 3 s caps, 200-character samples
  --json     print the results as one JSON object instead of the table
  --measure  train (speed and peak RSS per config) or sample (config M) (default all)
  --peers    comma-separated subset of the peers (default: the CPU peers, or the GPU ones with webgpu)
  --cap      seconds of timed work after which a measurement stops once it has its minimum
             number of iterations (default 120)`;

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const a = { config: null, backend: 'auto', quick: false, json: false, measure: 'all', peers: null, cap: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value\n${USAGE}`);
      return argv[++i];
    };
    switch (flag) {
      case '--config': a.config = value().toUpperCase(); break;
      case '--backend': a.backend = value(); break;
      case '--quick': a.quick = true; break;
      case '--json': a.json = true; break;
      case '--measure': a.measure = value(); break;
      case '--peers': a.peers = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--cap': a.cap = Number(value()); break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0);
      default: fail(`unknown option ${flag}\n${USAGE}`);
    }
  }
  a.config ??= a.quick ? 'S' : 'ALL';
  if (![...Object.keys(CONFIGS), 'ALL'].includes(a.config)) fail(`--config must be S, M, L, XL or all, got ${a.config}`);
  if (!['js', 'wasm', 'webgpu', 'auto'].includes(a.backend)) fail(`--backend must be js, wasm, webgpu or auto, got ${a.backend}`);
  a.peers ??= defaultPeers(a.backend);
  if (!['train', 'sample', 'all'].includes(a.measure)) fail(`--measure must be train, sample or all, got ${a.measure}`);
  for (const p of a.peers) if (!PEERS[p]) fail(`unknown peer ${p} (choose from ${Object.keys(PEERS).join(', ')})`);
  if (a.cap !== null && !(a.cap > 0)) fail('--cap must be a positive number of seconds');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const data = resolve(root, DATA);
if (!existsSync(data)) fail(`the benchmark corpus is missing: ${data} (run from the repository root, with ../shared/data beside it)`);
if (!existsSync(join(root, 'dist/src/index.js'))) fail('dist/src/index.js is missing: build first (npx tsc -p .)');

// BENCHMARKS.md: ≥ 5 warm-up and ≥ 20 timed iterations; the cap only shortens measurements
// too slow to finish in reasonable time, and the table shows how many iterations were timed.
const cap = args.cap ?? (args.quick ? 3 : 120);
const TRAIN = args.quick ? { warmup: 1, iters: 3, minIters: 2, cap } : { warmup: 5, iters: 20, minIters: 3, cap };
const SAMPLE = args.quick
  ? { length: 200, warmupLength: 20, iters: 2, minIters: 1, cap }
  : { length: 2000, warmupLength: 200, iters: 5, minIters: 3, cap };
const configs = args.config === 'ALL' ? defaultConfigs(args.backend) : [args.config];

// A child gets its budget plus room for a slow start (TF.js builds its graph on the first
// step); past that it is stopped and reported as not run.
const CHILD_TIMEOUT_S = 3 * cap + (args.quick ? 120 : 600);

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const python = '/usr/bin/python3';
// A CUDA build of PyTorch usually lives in a virtual environment or conda, not in Debian's python3.
const pythonGpu = process.env.CHARRNN_PYTHON || onPath('python3');

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Flops of one training iteration: see docs/benchmarks.md. */
function trainFlops(c, V) {
  const N = c.batch * c.seq, G = 4 * c.hidden, H = c.hidden;
  let fwd = 0;
  for (let k = 0; k < c.layers; k++) {
    if (k > 0) fwd += 2 * N * H * G; // input projection; layer 0's one-hot one is a gather
    fwd += 2 * N * H * G; // recurrent products, T steps of [B,H]·[H,G]
  }
  fwd += 2 * N * H * V; // decoder
  return 3 * fwd; // backward ≈ 2 × forward
}

function command(who, spec) {
  const json = JSON.stringify(spec);
  if (who.kind === 'python') return existsSync(python) ? [python, [join(here, who.script), '--spec', json]] : null;
  if (who.kind === 'python-gpu') return pythonGpu ? [pythonGpu, [join(here, who.script), '--spec', json]] : null;
  const script = who.kind === 'ours' ? join(here, 'ours.mjs') : join(here, who.script);
  return [process.execPath, [script, '--spec', json]];
}

// Thread pools held to 2 threads, which they would otherwise size to every core of a larger
// machine; a peer may narrow them further.
const childEnv = { ...process.env, OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' };

function runChild(cmd, args_, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'charrnn-bench-'));
  const timeFile = join(dir, 'time.txt');
  const [file, argv] = timeBin ? [timeBin, ['-v', '-o', timeFile, cmd, ...args_]] : [cmd, args_];
  return new Promise((done) => {
    const child = spawn(file, argv, { cwd: root, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', timedOut = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, CHILD_TIMEOUT_S * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      let rssKiB = null;
      if (timeBin && existsSync(timeFile)) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'));
        if (m) rssKiB = Number(m[1]);
      }
      rmSync(dir, { recursive: true, force: true });
      done({ code, out, err, timedOut, rssKiB });
    });
  });
}

/** The reason a failed child gives: its notRun line, else the error message in its stderr. */
function failure(r) {
  if (r.timedOut) return `stopped after ${CHILD_TIMEOUT_S} s`;
  const last = lastJson(r.out);
  if (last?.notRun) return last.notRun;
  const lines = r.err.split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /^([A-Za-z.]*(Error|Exception)|RuntimeError|bench:)\b/.test(l)) ?? lines.at(-1);
  return `exit ${r.code}: ${error ?? 'no output'}`;
}

function lastJson(text) {
  const line = text.trim().split('\n').at(-1);
  try { return JSON.parse(line); } catch { return null; }
}

const results = []; // { config, measure, who, ok, result | reason, rssKiB }
const jobs = [];
const ours = { id: 'ours', label: `charrnn ${args.backend}`, kind: 'ours', backend: args.backend };
const peerIds = args.peers.filter((p) => !(p === 'charrnn-js' && args.backend === 'js'));
for (const cfg of configs) {
  if (args.measure !== 'sample') jobs.push({ config: cfg, measure: 'train' });
}
// Sampling is defined on M; a quick run samples (briefly) even without M so the path is checked.
if (args.measure !== 'train' && (configs.includes('M') || args.quick)) jobs.push({ config: 'M', measure: 'sample' });
if (jobs.length === 0) fail('nothing to measure: --measure sample needs --config M or all');

const loadBefore = loadavg();
const total = jobs.length * (1 + peerIds.length);
let done = 0;
for (const job of jobs) {
  // Ours first, then every peer straight after, so all see the same machine conditions.
  for (const who of [ours, ...peerIds.map((id) => ({ id, ...PEERS[id] }))]) {
    const base = job.measure === 'train' ? TRAIN : SAMPLE;
    const spec = { measure: job.measure, config: CONFIGS[job.config], data, ...base, backend: who.backend, variant: who.variant, threads: who.threads ?? 2, smoke: args.quick, ...who.spec };
    const cmd = command(who, spec);
    const tag = `[${++done}/${total}] ${job.config} ${job.measure} · ${who.label}`;
    if (!args.json) process.stderr.write(`${tag} …`);
    const t0 = performance.now();
    let entry;
    if (!cmd) entry = { ok: false, reason: `${who.kind === 'python-gpu' ? 'python3 (or $CHARRNN_PYTHON)' : python} not found` };
    else {
      const r = await runChild(...cmd, who.env);
      const res = r.code === 0 ? lastJson(r.out) : null;
      entry = res && !res.notRun ? { ok: true, result: res, rssKiB: r.rssKiB } : { ok: false, reason: failure(r) };
    }
    results.push({ ...job, who: who.id, label: who.label, ...entry });
    if (!args.json) process.stderr.write(` ${entry.ok ? `${((performance.now() - t0) / 1000).toFixed(1)} s` : `not run: ${entry.reason}`}\n`);
  }
}

// ---- the table ----------------------------------------------------------------------

const find = (job, who) => results.find((r) => r.config === job.config && r.measure === job.measure && r.who === who);
const oursLabel = (() => {
  const r = results.find((x) => x.who === 'ours' && x.ok);
  if (!r) return ours.label;
  const x = r.result;
  const detail = [x.device, x.flavor, x.threads !== undefined && `${x.threads} thread${x.threads === 1 ? '' : 's'}`].filter(Boolean).join(', ');
  return `charrnn ${x.backend}${detail ? ` (${detail})` : ''}`;
})();
const nTag = (res, target) => (res.n < target ? ` (n=${res.n}, capped)` : ` (n=${res.n})`);
const num = (x, digits = 3) => (x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(digits));
const peerLabel = (r) => {
  const x = r.result;
  if (!x) return r.label;
  if (x.impl === 'torch-cuda') return `PyTorch ${x.version} cuDNN ${x.cudnn} (${x.tf32 ? 'TF32' : 'fp32'})`;
  if (x.impl === 'torch') return `PyTorch ${x.version} (${x.threads} thread${x.threads === 1 ? '' : 's'}, ${x.blas}${x.blasThreads ? ` ${x.blasThreads} thread${x.blasThreads === '1' ? '' : 's'}` : ''})`;
  if (x.impl === 'tfjs-wasm') return `TF.js ${x.version} wasm (${x.simd ? 'SIMD' : 'no SIMD'}, ${x.threads ? 'threads' : '1 thread'})`;
  if (x.impl?.startsWith('tfjs-')) return `TF.js ${x.version} ${x.backend}`;
  return r.label;
};

// Each measure: how to read a value off a result, its display, and which way is better.
function measuresOf(job) {
  if (job.measure === 'sample') {
    return [{ name: 'sample chars/s', value: (r) => r.result.length / r.result.secsPerRun, fmt: (v, r) => `${num(v)}${nTag(r.result, SAMPLE.iters)}`, higher: true }];
  }
  const c = CONFIGS[job.config];
  const cps = (r) => (c.batch * c.seq) / r.result.secsPerIter;
  return [
    { name: 'train chars/s', value: cps, fmt: (v, r) => `${num(v)}${nTag(r.result, TRAIN.iters)}`, higher: true },
    { name: 'train GFLOP/s', value: (r) => (trainFlops(c, r.result.vocab) / r.result.secsPerIter) / 1e9, fmt: (v) => v.toFixed(2), higher: true },
    { name: 'train peak RSS MiB', value: (r) => (r.rssKiB === null ? null : r.rssKiB / 1024), fmt: (v) => Math.round(v).toLocaleString('en-US'), higher: false },
    // On a GPU the first iteration compiles the kernels and times their plans (ours: tuner.ts;
    // the CUDA peer: cuDNN's benchmark mode): what a run pays once before its speed.
    ...(args.backend === 'webgpu'
      ? [{ name: 'train first iteration s', value: (r) => r.result.firstSecs ?? null, fmt: (v) => v.toPrecision(3), higher: false }]
      : []),
  ];
}

const rows = [];
for (const job of jobs) {
  const mine = find(job, 'ours');
  for (const m of measuresOf(job)) {
    const ov = mine?.ok ? m.value(mine) : null;
    const oursCell = ov === null ? (mine?.ok ? 'n/a' : 'not run') : m.fmt(ov, mine);
    const before = rows.length;
    for (const id of peerIds) {
      const p = find(job, id);
      if (!p?.ok) continue;
      const pv = m.value(p);
      const ratio = ov !== null && pv !== null ? (m.higher ? ov / pv : pv / ov) : null;
      rows.push({
        config: job.config, measure: m.name,
        ours: oursCell,
        peer: peerLabel(p), peerValue: pv === null ? 'n/a' : m.fmt(pv, p),
        ratio: ratio === null ? '—' : `${ratio.toFixed(2)}×`,
        raw: { ours: ov, peer: pv, ratio },
      });
    }
    // Our number is still worth a line when no peer ran beside it.
    if (rows.length === before) rows.push({ config: job.config, measure: m.name, ours: oursCell, peer: '—', peerValue: '—', ratio: '—', raw: { ours: ov, peer: null, ratio: null } });
  }
}

const notRun = [];
for (const who of [ours, ...peerIds.map((id) => ({ id, ...PEERS[id] }))]) {
  const failed = results.filter((r) => r.who === who.id && !r.ok);
  const reasons = [...new Set(failed.map((r) => r.reason))];
  for (const reason of reasons) {
    const where = failed.filter((r) => r.reason === reason).map((r) => `${r.config} ${r.measure}`);
    const all = where.length === jobs.length ? 'all measures' : where.join(', ');
    notRun.push({ who: who.id === 'ours' ? oursLabel : who.label, where: all, reason });
  }
}
const autoNote = results.find((r) => r.who === 'ours' && r.ok && r.result.backendNote)?.result.backendNote;
const torchRes = results.find((r) => r.who === 'torch' && r.ok)?.result;
const tfjsRes = results.find((r) => r.who.startsWith('tfjs') && r.ok)?.result;

function cpuModel() {
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) return m[1].trim();
  } catch { /* lscpu is missing: fall back to Node's view */ }
  return cpus()[0]?.model ?? 'unknown';
}
const machine = {
  cpu: cpuModel(), cores: cpus().length, node: process.version,
  torch: torchRes ? torchRes.version : null, tfjs: tfjsRes ? tfjsRes.version : null,
  gpu: results.find((r) => r.ok && r.result.device)?.result.device ?? null,
  loadavg: { before: loadBefore.map((x) => +x.toFixed(2)), after: loadavg().map((x) => +x.toFixed(2)) },
};
const warnings = [];
if (!timeBin) warnings.push('/usr/bin/time is missing, so peak RSS is not measured');
if (torchRes?.blas === 'reference BLAS') {
  warnings.push('PyTorch here runs its matrix products on the reference BLAS (Debian libblas3), about 10× slower than OpenBLAS; for a fair peer install libopenblas0-pthread or put its openblas-pthread directory on LD_LIBRARY_PATH (docs/benchmarks.md)');
}
const settings = { quick: args.quick, configs, backend: args.backend, train: TRAIN, sample: SAMPLE, rss: timeBin ? '/usr/bin/time -v' : null };

if (args.json) {
  process.stdout.write(`${JSON.stringify({ machine, settings, ours: oursLabel, autoNote: autoNote ?? null, warnings, rows: rows.map(({ raw, ...r }) => ({ ...r, ...raw && { values: raw } })), notRun, results }, null, 1)}\n`);
} else {
  const out = [];
  out.push(`charrnn benchmark${args.quick ? ' — QUICK SMOKE RUN, not results' : ''}`);
  out.push(`machine: ${machine.cpu}, ${machine.cores} cores${machine.gpu ? `; GPU ${machine.gpu}` : ''}; Node ${machine.node}${machine.torch ? `; PyTorch ${machine.torch}` : ''}${machine.tfjs ? `; TF.js ${machine.tfjs}` : ''}; load average ${machine.loadavg.before[0]} → ${machine.loadavg.after[0]}`);
  out.push(`ours: ${oursLabel}${autoNote ? ` (${autoNote})` : ''}. Speeds are medians over n timed iterations after ${TRAIN.warmup} warm-up (training) or n runs of ${SAMPLE.length} characters (sampling); ratio = ours ÷ peer for speeds, peer ÷ ours for memory: above 1 is better for us.`);
  for (const w of warnings) out.push(`warning: ${w}`);
  out.push('');
  const head = ['config', 'measure', 'ours', 'peer', 'peer value', 'ratio'];
  const body = rows.map((r) => [r.config, r.measure, r.ours, r.peer, r.peerValue, r.ratio]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = [false, false, true, false, true, true];
  const line = (cells) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  out.push(line(head));
  out.push(`|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`);
  for (const b of body) out.push(line(b));
  const planned = results.filter((r) => r.who === 'ours' && r.ok && r.result.plans?.length > 0);
  if (planned.length) {
    out.push('');
    out.push(`what ours ran on ${machine.gpu ?? args.backend}, as decided there:`);
    for (const r of planned) for (const l of r.result.plans) out.push(`- ${r.config} ${r.measure}: ${l}`);
  }
  if (notRun.length) {
    out.push('');
    out.push('not run:');
    for (const n of notRun) out.push(`- ${n.who} (${n.where}): ${n.reason}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
process.exit(results.some((r) => r.who === 'ours' && !r.ok) ? 1 : 0);
