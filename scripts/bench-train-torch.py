"""PyTorch side of `npm run bench:train` (scripts/bench-train.ts runs it when torch imports).

Trains the benchmark CNN (conv 16 3x3 relu, maxpool 2, conv 32 3x3 relu, maxpool 2, dense 64 relu,
dense 10) with Adam on the images bench-train.ts exported, and prints one JSON line.

Usage: python3 bench-train-torch.py DIR [--epochs 3] [--batch 64] [--threads 2] [--seed 1] [--repeat 1]
With --repeat N the whole training runs N times in this process (a fresh model each time, as
bench-train.ts does for wasm); "seconds" is their median and "runs" lists them all.
DIR holds x.f32 (count x 28 x 28 float32, little-endian, in [0, 1]) and y.u8 (count labels).

With --arch mobilenetv2 (no DIR): torchvision's mobilenet_v2(width_mult=0.35) with a --classes head
at 224x224x3, Adam, one fixed synthetic batch of --batch (32), --warmup untimed steps then --steps
timed ones; prints one JSON line with every timed step's seconds (bench-train-mobilenet.ts).
"""

import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def train(x, y, a):
    torch.manual_seed(a.seed)
    n = y.shape[0]
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    # As TF.js's defaults: Glorot-uniform kernels, zero biases; Adam's epsilon 1e-7.
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)

    started = time.perf_counter()
    loss = torch.tensor(0.0)
    for _ in range(a.epochs):
        order = torch.randperm(n)
        for i in range(0, n, a.batch):
            idx = order[i : i + a.batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return model, loss, time.perf_counter() - started


def mobilenet(a):
    import torchvision

    torch.manual_seed(a.seed)
    model = torchvision.models.mobilenet_v2(weights=None, width_mult=0.35, num_classes=a.classes)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    x = torch.rand(a.batch, 3, 224, 224) * 2 - 1
    y = torch.randint(0, a.classes, (a.batch,))
    times = []
    for s in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if s >= a.warmup:
            times.append(time.perf_counter() - t)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "stepSeconds": times,
        "params": sum(p.numel() for p in model.parameters()),
    }))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?")
    p.add_argument("--arch", default="cnn", choices=["cnn", "mobilenetv2"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--repeat", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    if a.arch == "mobilenetv2":
        mobilenet(a)
        return
    with open(os.path.join(a.dir, "y.u8"), "rb") as f:
        y = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    with open(os.path.join(a.dir, "x.f32"), "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(-1, 1, 28, 28)
    n = y.shape[0]

    runs_s = []
    for _ in range(a.repeat):
        model, loss, seconds = train(x, y, a)
        runs_s.append(seconds)
    seconds = sorted(runs_s)[len(runs_s) // 2]

    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
        batch = x[:500]
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            model(batch)
            runs.append((time.perf_counter() - t) * 1000)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "runs": runs_s,
        "samplesPerSec": n * a.epochs / seconds,
        "trainAccuracy": accuracy,
        "finalLoss": loss.item(),
        "inference500Ms": sorted(runs)[len(runs) // 2],
    }))


if __name__ == "__main__":
    main()
