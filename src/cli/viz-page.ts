// The standalone page `charrnn viz` writes: one HTML file with its style, the view's compiled
// script and the data inline, that opens from disk with no server and fetches nothing.
import { readFile } from 'node:fs/promises';
import type { VizJSON } from '../inspect/encode.js';

const VIEW = new URL('../../web/app/viz-view.js', import.meta.url);

const STYLE = `body { font: 15px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #111; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
.about { color: #555; margin-top: 0; }`;

/** The compiled view (web/app/viz-view.ts), checked to be safe inside a script element. */
export async function readVizView(): Promise<string> {
  const js = await readFile(VIEW, 'utf8');
  // Inside <script>, the HTML parser ends the element at the first "</script", wherever it is.
  if (/<\/script/i.test(js)) throw new Error(`${VIEW.pathname} contains "</script" and cannot be inlined`);
  return js;
}

export function vizPage(data: VizJSON, about: string, viewJs: string): string {
  // JSON has '<' only inside strings, where \u003c means the same and cannot end the element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<p class="about">${escapeHtml(about)}</p>
<p id="status"></p>
<div id="viz-root"></div>
<script type="application/json" id="viz-data">${json}</script>
<script type="module">
${viewJs}
try {
  renderViz(document.getElementById('viz-root'), await decodeViz(JSON.parse(document.getElementById('viz-data').textContent)));
} catch (e) {
  document.getElementById('status').textContent = 'Error: ' + (e instanceof Error ? e.message : String(e));
}
</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
