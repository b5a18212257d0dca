// Row and column moves: biases, one-hot projection as a gather, embedding lookup.

// out[N,G] += b[G]
export function addBias(out: Float32Array, oo: number, b: Float32Array, bo: number, N: number, G: number): void {
  for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) out[oo + n * G + g] += b[bo + g];
}

// db[G] += Σ_n dout[n,G]
export function sumRows(db: Float32Array, dbo: number, dout: Float32Array, doo: number, N: number, G: number): void {
  for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) db[dbo + g] += dout[doo + n * G + g];
}

// out[N,G] += w[G,V][:, ids[n]]
export function gatherCols(out: Float32Array, oo: number, w: Float32Array, wo: number,
  ids: Int32Array, io: number, N: number, G: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const col = wo + ids[io + n];
    for (let g = 0; g < G; g++) out[oo + n * G + g] += w[col + g * V];
  }
}

// dw[G,V][:, ids[n]] += dout[n,G]
export function scatterAddCols(dw: Float32Array, dwo: number, dout: Float32Array, doo: number,
  ids: Int32Array, io: number, N: number, G: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const col = dwo + ids[io + n];
    for (let g = 0; g < G; g++) dw[col + g * V] += dout[doo + n * G + g];
  }
}

// out[N,E] = table[ids[n], :]
export function gatherRows(out: Float32Array, oo: number, table: Float32Array, to: number,
  ids: Int32Array, io: number, N: number, E: number): void {
  for (let n = 0; n < N; n++) {
    const row = to + ids[io + n] * E;
    for (let e = 0; e < E; e++) out[oo + n * E + e] = table[row + e];
  }
}

// dtable[ids[n], :] += dout[n,E]
export function scatterAddRows(dtable: Float32Array, dto: number, dout: Float32Array, doo: number,
  ids: Int32Array, io: number, N: number, E: number): void {
  for (let n = 0; n < N; n++) {
    const row = dto + ids[io + n] * E;
    for (let e = 0; e < E; e++) dtable[row + e] += dout[doo + n * E + e];
  }
}
