// Loss curves as a small standalone SVG line chart: no dependency, readable on GitHub.
import { writeFile } from 'node:fs/promises';

export interface Series {
  label: string;
  points: [number, number][];
  colour: string;
  dashed?: boolean;
}

export interface Chart {
  title: string;
  x: string;
  y: string;
  series: Series[];
}

const W = 720, H = 400;
const M = { left: 64, right: 20, top: 40, bottom: 48 };
export const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** Thousands of noisy per-iteration losses become at most `bins` means, one per stretch of iterations. */
export function smooth(points: [number, number][], bins = 200): [number, number][] {
  if (points.length <= bins) return points;
  const size = Math.ceil(points.length / bins);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += size) {
    const chunk = points.slice(i, i + size);
    out.push([chunk[chunk.length - 1][0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
  }
  return out;
}

// Round steps (1, 2 or 5 × 10^k) giving about `count` ticks over [lo, hi].
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
const fmt = (v: number): string => (Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(v));

export function lineChart(c: Chart): string {
  const all = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) throw new Error(`chart "${c.title}" has no points`);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(0, ...xs), x1 = Math.max(...xs, x0 + 1);
  const yPad = (Math.max(...ys) - Math.min(...ys)) * 0.05 || 0.1;
  const y0 = Math.max(0, Math.min(...ys) - yPad), y1 = Math.max(...ys) + yPad;
  const px = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(c.title)}</text>`,
  ];
  for (const t of ticks(x0, x1, 8)) {
    parts.push(`<line x1="${px(t).toFixed(1)}" y1="${M.top}" x2="${px(t).toFixed(1)}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${px(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1, 6)) {
    parts.push(`<line x1="${M.left}" y1="${py(t).toFixed(1)}" x2="${W - M.right}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(c.x)}</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.y)}</text>`);
  c.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 0) {
      const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      if (pts.length < 40) for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.colour}"/>`);
    }
    const ly = M.top + 16 + i * 18, lx = W - M.right - 190;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export async function writeChart(path: string, c: Chart): Promise<void> {
  await writeFile(path, lineChart(c));
}
