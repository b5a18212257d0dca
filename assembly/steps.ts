// One recurrent step of a single stream with its two products fused in: batch-1 sampling
// runs one per layer and character, where separate products, bias additions and cell
// updates would each cost a call and a pass over memory. Threads split the hidden units;
// a thread reads every gate row of its units in W_ih and W_hh once, and computes their cells.
// Units go four at a time in f32x4 lanes (a leftover one in lane 0, as in ./cells). h must
// not alias hPrev: other threads still read all of hPrev while this one writes its units.
import { tanhv } from './math';
import { dot1, dot4 } from './simd';
import { gruCell, lstmCell, st } from './cells';

// W_ih·x + b_ih for rows r … r+3 (only r unless full, in lane 0 then). x is the input row
// [In], or with oneHot a pointer to the id whose column of W_ih[G,In] is the product.
@inline function inRows(x: usize, oneHot: bool, In: i32, wih: usize, bih: usize, r: i32, full: bool): v128 {
  const row = <usize>In << 2, w = wih + <usize>r * row;
  let v: v128;
  if (oneHot) {
    const p = w + (<usize>load<i32>(x) << 2);
    v = full ? f32x4(load<f32>(p), load<f32>(p + row), load<f32>(p + 2 * row), load<f32>(p + 3 * row)) : f32x4.splat(load<f32>(p));
  } else {
    v = full ? dot4(x, w, row, In) : f32x4.splat(dot1(x, w, In));
  }
  return f32x4.add(v, bias(bih, r, full));
}

// W_hh·hPrev + b_hh for rows r … r+3, as inRows.
@inline function recRows(hPrev: usize, H: i32, whh: usize, bhh: usize, r: i32, full: bool): v128 {
  const row = <usize>H << 2, w = whh + <usize>r * row;
  return f32x4.add(full ? dot4(hPrev, w, row, H) : f32x4.splat(dot1(hPrev, w, H)), bias(bhh, r, full));
}

@inline function bias(b: usize, r: i32, full: bool): v128 {
  return full ? v128.load(b + (<usize>r << 2)) : f32x4.splat(load<f32>(b + (<usize>r << 2)));
}

@inline function lstmUnitsOne(x: usize, hot: bool, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, cPrev: usize, act: usize, c: usize, h: usize, H: i32, j: i32, full: bool): void {
  const gate = <usize>H << 2, o = <usize>j << 2;
  lstmCell(
    f32x4.add(inRows(x, hot, In, wih, bih, j, full), recRows(hPrev, H, whh, bhh, j, full)),
    f32x4.add(inRows(x, hot, In, wih, bih, H + j, full), recRows(hPrev, H, whh, bhh, H + j, full)),
    f32x4.add(inRows(x, hot, In, wih, bih, 2 * H + j, full), recRows(hPrev, H, whh, bhh, 2 * H + j, full)),
    f32x4.add(inRows(x, hot, In, wih, bih, 3 * H + j, full), recRows(hPrev, H, whh, bhh, 3 * H + j, full)),
    cPrev, act, c, h, o, o, gate, full);
}

// lstmStep with B = 1 for units [j0, j0+n), from pre = W_ih·x + b_ih + W_hh·hPrev + b_hh.
export function lstmStepOne(x: usize, oneHot: i32, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, cPrev: usize, act: usize, c: usize, h: usize, H: i32, j0: i32, n: i32): void {
  const hot = oneHot != 0, end = j0 + n, end4 = j0 + (n & ~3);
  let j = j0;
  for (; j < end4; j += 4) lstmUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, cPrev, act, c, h, H, j, true);
  for (; j < end; j++) lstmUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, cPrev, act, c, h, H, j, false);
}

@inline function gruUnitsOne(x: usize, hot: bool, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, act: usize, hh: usize, h: usize, H: i32, j: i32, full: bool): void {
  const gate = <usize>H << 2, o = <usize>j << 2;
  const hr = recRows(hPrev, H, whh, bhh, j, full);
  const hz = recRows(hPrev, H, whh, bhh, H + j, full);
  const hn = recRows(hPrev, H, whh, bhh, 2 * H + j, full);
  st(hh + o, hr, full); st(hh + o + gate, hz, full); st(hh + o + 2 * gate, hn, full);
  gruCell(inRows(x, hot, In, wih, bih, j, full), inRows(x, hot, In, wih, bih, H + j, full),
    inRows(x, hot, In, wih, bih, 2 * H + j, full), hr, hz, hn, hPrev, act, h, o, o, gate, full);
}

// gruStep with B = 1 for units [j0, j0+n), from xi = W_ih·x + b_ih and hh = W_hh·hPrev + b_hh;
// hh[3H] is written too, for the backward.
export function gruStepOne(x: usize, oneHot: i32, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, act: usize, hh: usize, h: usize, H: i32, j0: i32, n: i32): void {
  const hot = oneHot != 0, end = j0 + n, end4 = j0 + (n & ~3);
  let j = j0;
  for (; j < end4; j += 4) gruUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, act, hh, h, H, j, true);
  for (; j < end; j++) gruUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, act, hh, h, H, j, false);
}

@inline function rnnUnitsOne(x: usize, hot: bool, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, h: usize, H: i32, j: i32, full: bool): void {
  st(h + (<usize>j << 2), tanhv(f32x4.add(inRows(x, hot, In, wih, bih, j, full), recRows(hPrev, H, whh, bhh, j, full))), full);
}

// h = tanh(W_ih·x + b_ih + W_hh·hPrev + b_hh) for units [j0, j0+n).
export function rnnStepOne(x: usize, oneHot: i32, In: i32, wih: usize, bih: usize, whh: usize, bhh: usize,
  hPrev: usize, h: usize, H: i32, j0: i32, n: i32): void {
  const hot = oneHot != 0, end = j0 + n, end4 = j0 + (n & ~3);
  let j = j0;
  for (; j < end4; j += 4) rnnUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, h, H, j, true);
  for (; j < end; j++) rnnUnitsOne(x, hot, In, wih, bih, whh, bhh, hPrev, h, H, j, false);
}
