#!/usr/bin/python3
# PyTorch reference for bench/bench_device.c: seconds per training epoch of the
# course's MLP (SGD) or ConvNet (Adam) on one device, on synthetic 28x28 images.
"""Usage: python3 bench/torch_device.py DEVICE mlp|convnet BATCH [images (10000)] [timed epochs (3)]

DEVICE is a torch device ("cuda", "cuda:0", "cpu"). The images stay in pinned host
memory and each shuffled batch is copied to the device without blocking, as Plexus
copies its batches; one untimed epoch first (cuDNN's algorithm search, allocator
warm-up). Prints one line in bench_device's format, with the median timed epoch:
"torch DEVICE MODEL batch B images N epoch_s S step_ms T".
"""
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_convnet import model as convnet_model  # noqa: E402  (the same ConvNet, Keras's "same" padding)


def mlp_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    device, kind, batch = torch.device(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    pin = device.type == "cuda"
    x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    if pin:
        x, y = x.pin_memory(), y.pin_memory()
    if kind == "mlp":
        net = mlp_model().to(device)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
    elif kind == "convnet":
        net = convnet_model().to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    else:
        sys.exit(__doc__)
    times = []
    for e in range(epochs + 1):
        perm = torch.randperm(n)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            if pin:
                xb, yb = xb.pin_memory(), yb.pin_memory()
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if e > 0:
            times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    steps = -(-n // batch)
    print("torch %s %s batch %d images %d epoch_s %.4f step_ms %.4f" % (sys.argv[1], kind, batch, n, s, 1e3 * s / steps))


if __name__ == "__main__":
    main()
