// The library: the same engine the CLI uses, importable in Node and in the browser.
export { Corpus } from './text/corpus.js';
export { Vocab } from './text/vocab.js';
export { Batcher } from './text/batches.js';
export { CharLM, RecurrentState } from './model/charlm.js';
export type { ModelConfig, CellType } from './model/config.js';
export { paramLayout } from './model/params.js';
export type { Backend, Buf, Slice } from './backend/backend.js';
export { JsBackend } from './backend/js/index.js';
export { WasmBackend, WasmBuf, type WasmBackendOptions } from './backend/wasm/index.js';
export { train } from './train/loop.js';
export type { TrainHooks, TrainingProgress, CheckpointRequest } from './train/loop.js';
export type { TrainEvent, StopReason } from './train/events.js';
export { defaultTrainOptions, type TrainOptions } from './train/options.js';
export { evaluate, checkEvaluable, type EvalResult } from './train/evaluate.js';
export { sampleIds, sampleText, sampleTexts, defaultSampleOptions, type SampleOptions } from './sample/sample.js';
export { encodeCheckpoint, decodeCheckpoint, checkpointFromTraining, modelFromCheckpoint, type Checkpoint } from './io/checkpoint.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { UserError } from './errors.js';
