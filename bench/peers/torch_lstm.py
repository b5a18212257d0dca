"""PyTorch peer: char-rnn's model and training step in idiomatic PyTorch on the CPU.

Run by bench/run.mjs as `/usr/bin/python3 bench/peers/torch_lstm.py --spec JSON`; prints one
JSON line. Same timing rule as bench/lib/common.mjs, so the two medians mean the same thing.
"""
import json
import os
import sys
import time


def out(obj, code=0):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def spec_arg():
    argv = sys.argv[1:]
    if "--spec" not in argv:
        sys.exit("usage: --spec JSON (this script is run by bench/run.mjs)")
    return json.loads(argv[argv.index("--spec") + 1])


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # reported as "not run", with the reason, rather than a traceback
    out({"notRun": f"PyTorch is not importable by {sys.executable}: {e}"}, 2)


def blas_in_use():
    """Which BLAS this process loaded: Debian's PyTorch calls whatever libblas.so.3 the system
    provides, and the reference one is an order of magnitude slower than OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    for path in sorted(paths):
        real = os.path.realpath(path).lower()
        for key, name in (("openblas", "OpenBLAS"), ("mkl", "MKL"), ("blis", "BLIS"), ("atlas", "ATLAS")):
            if key in real:
                return name
    if any("/blas/libblas.so" in os.path.realpath(p) for p in paths):
        return "reference BLAS"
    return ", ".join(sorted(os.path.basename(p) for p in paths)) or "none found"


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def time_iterations(step, spec):
    warm, warm_secs, first = 0, 0.0, None
    while warm < spec["warmup"]:
        t0 = time.perf_counter()
        step()
        s = time.perf_counter() - t0
        if first is None:
            first = s
        warm_secs += s
        warm += 1
        if warm_secs > spec["cap"] / 4:
            break
    secs, total = [], 0.0
    while len(secs) < spec["iters"] and not (total >= spec["cap"] and len(secs) >= spec["minIters"]):
        t0 = time.perf_counter()
        step()
        s = time.perf_counter() - t0
        secs.append(s)
        total += s
    return {"median": median(secs), "n": len(secs), "warmup": warm, "secs": secs, "first": first}


class CharRNN(nn.Module):
    """One-hot input → nn.LSTM (dropout between layers) → dropout → nn.Linear, as char-rnn."""

    def __init__(self, vocab, hidden, layers, dropout):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab)
        for p in self.parameters():
            nn.init.uniform_(p, -0.08, 0.08)
        for k in range(layers):  # char-rnn's forget-gate bias of 1 (split over PyTorch's two biases)
            getattr(self.lstm, f"bias_ih_l{k}").data[hidden:2 * hidden] = 0.5
            getattr(self.lstm, f"bias_hh_l{k}").data[hidden:2 * hidden] = 0.5

    def forward(self, ids, state):  # ids [T, B]
        y, state = self.lstm(F.one_hot(ids, self.vocab).float(), state)
        return self.decoder(self.drop(y)), state


def load_ids(path):
    """The text as ids over its sorted characters, and the vocabulary size."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    return torch.tensor([index[ch] for ch in text], dtype=torch.long), len(chars)


def train_step(model, ids, c, V, device=torch.device("cpu")):
    """char-rnn's training iteration on `device`; returns it and a list holding the last loss."""
    B, T, H, L = c["batch"], c["seq"], c["hidden"], c["layers"]
    # char-rnn's layout: B contiguous streams of the training text (first 90%), T steps per batch.
    train_ids = ids[: int(len(ids) * 0.9)]
    per_stream = (len(train_ids) - 1) // B
    streams = train_ids[: B * per_stream + 1]
    xs = streams[:-1].view(B, per_stream).t().contiguous().to(device)  # [time, stream]
    ys = streams[1:].view(B, per_stream).t().contiguous().to(device)
    count = per_stream // T
    opt = torch.optim.RMSprop(model.parameters(), lr=2e-3, alpha=0.95, eps=1e-8)
    # Our loop clamps mean-loss gradients to ±grad_clip/seq: char-rnn's ±5 on its summed loss.
    clip = 5.0 / T
    zeros = torch.zeros(L, B, H, device=device)
    state = [(zeros, zeros)]
    it = [0]
    last = [float("nan")]

    def step():
        i = it[0] % count
        it[0] += 1
        x, y = xs[i * T:(i + 1) * T], ys[i * T:(i + 1) * T]
        opt.zero_grad(set_to_none=True)
        h, cc = state[0]
        logits, (h, cc) = model(x, (h.detach(), cc.detach()))
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), clip)
        opt.step()
        state[0] = (h, cc)
        last[0] = loss.item()

    return step, last


def main():
    spec = spec_arg()
    torch.set_num_threads(spec.get("threads", 2))
    torch.manual_seed(123)
    ids, V = load_ids(spec["data"])
    c = spec["config"]
    H, L = c["hidden"], c["layers"]
    model = CharRNN(V, H, L, c["dropout"])
    info = {"impl": "torch", "version": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(),
            "blasThreads": os.environ.get("OPENBLAS_NUM_THREADS"), "vocab": V,
            "params": sum(p.numel() for p in model.parameters())}

    if spec["measure"] == "train":
        model.train()
        step, last = train_step(model, ids, c, V)
        t = time_iterations(step, spec)
        out({**info, "measure": "train", "secsPerIter": t["median"], "n": t["n"], "warmup": t["warmup"],
             "secs": t["secs"], "firstSecs": t["first"], "lastLoss": last[0]})
    elif spec["measure"] == "sample":
        model.eval()
        gen = torch.Generator().manual_seed(1)

        def generate(length):
            h = torch.zeros(L, 1, H)
            cc = torch.zeros(L, 1, H)
            cur = torch.randint(V, (1, 1), generator=gen)
            with torch.no_grad():
                for _ in range(length - 1):
                    logits, (h, cc) = model(cur, (h, cc))
                    p = F.softmax(logits[0], dim=-1)
                    cur = torch.multinomial(p, 1, generator=gen)
                    cur.item()  # a sampler hands each character on as it is drawn

        generate(spec["warmupLength"])
        t = time_iterations(lambda: generate(spec["length"]), {**spec, "warmup": 0})
        out({**info, "measure": "sample", "secsPerRun": t["median"], "length": spec["length"], "n": t["n"],
             "warmup": 1, "secs": t["secs"]})
    else:
        sys.exit(f"unknown measure {spec['measure']}")


if __name__ == "__main__":  # torch_cuda.py imports the model and the timing rule
    main()
