// What only Node has, for library users: backends by name, corpora from files and
// built-in datasets, checkpoint files. Import as 'charrnn/node'.
export { createBackend, type CreateBackendOptions } from './backend.js';
export { loadWasmBackend } from './wasm.js';
export { loadWebGPUBackend, type LoadWebGPUOptions } from './webgpu.js';
export { openCorpus, resolveCorpusText, listDatasets } from './datasets.js';
export { loadTextFile, loadCorpusFile } from './corpus-file.js';
export { readCheckpoint, writeCheckpoint } from './checkpoint-file.js';
