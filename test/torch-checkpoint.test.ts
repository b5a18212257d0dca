// Checkpoints written by the charrnn binary load by name into torch.nn (see
// test/fixtures/make_cli_checkpoints.sh) and give the same loss there as here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JsBackend } from '../src/backend/js/index.js';
import { decodeCheckpoint, modelFromCheckpoint } from '../src/io/checkpoint.js';
import { resolveCorpusText } from '../src/node/datasets.js';

const dir = new URL('../../test/fixtures/cli/', import.meta.url);
const torch = JSON.parse(readFileSync(new URL('torch.json', dir), 'utf8')) as Record<string, { loss: number; chars: number }>;

for (const name of ['lstm', 'gru', 'rnn']) {
  test(`${name} checkpoint from the CLI: same loss as PyTorch`, async () => {
    const ck = decodeCheckpoint(readFileSync(new URL(`${name}.safetensors`, dir)));
    const model = modelFromCheckpoint(new JsBackend(), ck);
    const text = (await resolveCorpusText('mobydick')).text.slice(0, 3000);
    const ids = ck.vocab.encode(text).subarray(0, torch[name].chars);
    const n = ids.length - 1;
    const loss = await model.loss(ids.subarray(0, n), ids.subarray(1), n, 1, model.newState(1));
    assert.ok(Math.abs(loss - torch[name].loss) < 1e-5 * torch[name].loss, `charrnn ${loss}, PyTorch ${torch[name].loss}`);
  });
}
