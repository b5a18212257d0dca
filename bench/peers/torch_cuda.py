"""PyTorch + cuDNN peer for the webgpu backend: char-rnn's model and training step on a CUDA GPU.

Run by bench/run.mjs as `python3 bench/peers/torch_cuda.py --spec JSON` (python3 from PATH, or
$CHARRNN_PYTHON); prints one JSON line. The same model and step as the CPU peer
(torch_lstm.py) — nn.LSTM runs on cuDNN — and the same timing rule as bench/lib/common.mjs.
Each timed iteration ends with loss.item(), as ours reads its loss back, so it waits for the GPU.
fp32 by default (what the WGSL kernels compute in); spec "tf32": true lets cuBLAS and cuDNN
use TF32 tensor cores, PyTorch's fastest setting for these products.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lstm import CharRNN, load_ids, out, spec_arg, time_iterations, train_step  # noqa: E402  (also checks torch imports)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def main():
    spec = spec_arg()
    if not torch.cuda.is_available():
        out({"notRun": f"PyTorch {torch.__version__} at {sys.executable} has no CUDA device"}, 2)
    tf32 = bool(spec.get("tf32"))
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    torch.manual_seed(123)
    ids, V = load_ids(spec["data"])
    c = spec["config"]
    H, L = c["hidden"], c["layers"]
    model = CharRNN(V, H, L, c["dropout"]).to(dev)
    info = {"impl": "torch-cuda", "version": torch.__version__, "cudnn": torch.backends.cudnn.version(),
            "device": torch.cuda.get_device_name(0), "tf32": tf32, "vocab": V,
            "params": sum(p.numel() for p in model.parameters())}

    if spec["measure"] == "train":
        model.train()
        step, last = train_step(model, ids, c, V, dev)
        t = time_iterations(step, spec)
        out({**info, "measure": "train", "secsPerIter": t["median"], "n": t["n"], "warmup": t["warmup"],
             "secs": t["secs"], "firstSecs": t["first"], "lastLoss": last[0]})
    elif spec["measure"] == "sample":
        model.eval()
        gen = torch.Generator(device=dev).manual_seed(1)

        def generate(length):
            h = torch.zeros(L, 1, H, device=dev)
            cc = torch.zeros(L, 1, H, device=dev)
            cur = torch.randint(V, (1, 1), generator=gen, device=dev)
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


main()
