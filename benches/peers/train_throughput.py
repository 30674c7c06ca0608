#!/usr/bin/env python3
"""PyTorch's training throughput on the NAS-Bench-Macro network, beside genius-train's criterion bench
(crates/genius-train/benches/train_throughput.rs): the same networks (same layers, same parameter counts), 32x32
inputs, batch 64, SGD with Nesterov momentum 0.9 and weight decay 5e-4, one step = forward + backward + optimizer
step. Prints images per second for each architecture.

    eval "$(scripts/libtorch.sh --python)"      # a venv with torch 2.13.0 (the libtorch tch 0.26 links)
    $GENIUS_TORCH_PYTHON benches/peers/train_throughput.py --archs 02012100,22222222 --threads 2

Options: --archs A,B (NAS-Bench-Macro keys), --batch 64, --resolution 32, --warmup 5, --steps 30, --repeats 5
(the median of the repeats is reported), --threads N (torch.set_num_threads; default: torch's choice),
--device cpu|cuda, --json FILE.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn

STAGES = [2, 3, 3]
STEM = 32
FEATURES = 1280


def conv_bn(cin, cout, kernel, stride, groups=1, relu=True):
    layers = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class Block(nn.Module):
    """An inverted residual (1x1 expansion, depthwise k x k with the stride, 1x1 projection)."""

    def __init__(self, cin, cout, stride, expansion, kernel):
        super().__init__()
        mid = cin * expansion
        self.body = nn.Sequential(
            *conv_bn(cin, mid, 1, 1),
            *conv_bn(mid, mid, kernel, stride, groups=mid),
            *conv_bn(mid, cout, 1, 1, relu=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.body(x)
        return out + x if self.residual else out


def macro_network(key, classes=10):
    """The NAS-Bench-Macro network of an 8-digit key (0 identity, 1 MB e3 k3, 2 MB e6 k5)."""
    layers = conv_bn(3, STEM, 3, 1)
    channels = STEM
    position = 0
    for stage, count in enumerate(STAGES):
        for i in range(count):
            op = int(key[position])
            position += 1
            cin, stride = channels, 1
            if i == 0:
                cout, stride = channels * 2, 2
            else:
                cout = channels
            if op == 0:
                if stride != 1 or cin != cout:
                    layers.append(nn.Sequential(*conv_bn(cin, cout, 1, stride, relu=False)))
            else:
                expansion, kernel = (3, 3) if op == 1 else (6, 5)
                layers.append(Block(cin, cout, stride, expansion, kernel))
            channels = cout
    layers += conv_bn(channels, FEATURES, 1, 1)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(FEATURES, classes)]
    return nn.Sequential(*layers)


def throughput(key, args, device):
    torch.manual_seed(0)
    model = macro_network(key).to(device).train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        loss.item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(args.steps * args.batch / (time.perf_counter() - start))
    return params, statistics.median(rates), rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="02012100,22222222")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = []
    for key in args.archs.split(","):
        params, rate, rates = throughput(key, args, device)
        print(f"pytorch {torch.__version__} {device} {key}: {rate:.1f} images/s (params {params}; "
              f"repeats {', '.join(f'{r:.1f}' for r in rates)})")
        results.append({"arch": key, "params": params, "images_per_s": rate, "repeats": rates})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
                       "batch": args.batch, "resolution": args.resolution, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
