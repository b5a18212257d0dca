// Row and column moves: biases, bias gradients, the one-hot projection as a gather, and
// embedding lookups. Sums are f32 additions in the reference's order, so they match it exactly.

// dst[0..G) += src[0..G)
@inline function addRow(dst: usize, src: usize, G: i32): void {
  let g = 0;
  for (; g + 4 <= G; g += 4) {
    const o = <usize>g << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; g < G; g++) {
    const o = <usize>g << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// out[N,G] += b[G]
export function addBias(out: usize, b: usize, N: i32, G: i32): void {
  const row = <usize>G << 2;
  for (let n = 0; n < N; n++) addRow(out + <usize>n * row, b, G);
}

// db[G] += Σ_n dout[n,G], rows added one after another as the reference does; db2 (0: none)
// likewise, each row added to both while it is in cache.
export function sumRows(db: usize, dout: usize, N: i32, G: i32, db2: usize): void {
  const row = <usize>G << 2;
  for (let n = 0; n < N; n++) {
    addRow(db, dout + <usize>n * row, G);
    if (db2 != 0) addRow(db2, dout + <usize>n * row, G);
  }
}

// out[N,G] += w[G,V][:, ids[n]]
export function gatherCols(out: usize, w: usize, ids: usize, N: i32, G: i32, V: i32): void {
  const stride = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const col = w + (<usize>load<i32>(ids + (<usize>n << 2)) << 2);
    const o = out + <usize>n * (<usize>G << 2);
    for (let g = 0; g < G; g++) {
      const p = o + (<usize>g << 2);
      store<f32>(p, load<f32>(p) + load<f32>(col + <usize>g * stride));
    }
  }
}

// dw[G,V][:, ids[n]] += dout[n,G]
export function scatterAddCols(dw: usize, dout: usize, ids: usize, N: i32, G: i32, V: i32): void {
  const stride = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const col = dw + (<usize>load<i32>(ids + (<usize>n << 2)) << 2);
    const d = dout + <usize>n * (<usize>G << 2);
    for (let g = 0; g < G; g++) {
      const p = col + <usize>g * stride;
      store<f32>(p, load<f32>(p) + load<f32>(d + (<usize>g << 2)));
    }
  }
}

// out[N,E] = table[ids[n], :]
export function gatherRows(out: usize, table: usize, ids: usize, N: i32, E: i32): void {
  const row = <usize>E << 2;
  for (let n = 0; n < N; n++) {
    const id = <usize>load<i32>(ids + (<usize>n << 2));
    memory.copy(out + <usize>n * row, table + id * row, row);
  }
}

// dtable[ids[n], :] += dout[n,E]
export function scatterAddRows(dtable: usize, dout: usize, ids: usize, N: i32, E: i32): void {
  const row = <usize>E << 2;
  for (let n = 0; n < N; n++) {
    const id = <usize>load<i32>(ids + (<usize>n << 2));
    addRow(dtable + id * row, dout + <usize>n * row, E);
  }
}
