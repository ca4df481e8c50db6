#!/usr/bin/python3
# PyTorch reference for bench/bench_convnet.c: seconds per epoch of the course's ConvNet
# (batch 64, Adam) on the same 55,000 Fashion-MNIST images read from the IDX files.
"""Usage: /usr/bin/python3 bench/torch_convnet.py [epochs per setting (2)] [images (55000)]

TF "same" padding for the strided 4x4 convolutions is an explicit F.pad (1 before,
2 after), as Keras pads; torch.set_num_threads is set to 1 and then 2.
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class SamePad(nn.Module):
    """TF "same" padding for a k x k window with stride s on a square input of size n."""

    def __init__(self, n, k, s):
        super().__init__()
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x):
        return F.pad(x, self.pad)


def model():
    return nn.Sequential(
        SamePad(28, 5, 1), nn.Conv2d(1, 4, 5), nn.ReLU(),
        SamePad(28, 4, 2), nn.Conv2d(4, 8, 4, stride=2), nn.ReLU(),
        SamePad(14, 4, 2), nn.Conv2d(8, 12, 4, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(12 * 7 * 7, 200), nn.ReLU(), nn.Linear(200, 10))


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 55000
    # a third argument "bf16": the steps under torch.autocast("cpu", dtype=torch.bfloat16)
    bf16 = len(sys.argv) > 3 and sys.argv[3] == "bf16"
    # the last n training images, as px_fashion_mnist_load(NULL, n, ...) gives them
    x = torch.from_numpy(idx(DATA + "/train-images-idx3-ubyte.gz")[-n:].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(idx(DATA + "/train-labels-idx1-ubyte.gz")[-n:].astype(np.int64))
    print("torch %s, %d images, batch 64, Adam" % (torch.__version__, n))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        net = model()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        best = float("inf")
        for _ in range(epochs):
            perm = torch.randperm(n)
            t0 = time.perf_counter()
            for i in range(0, n, 64):
                idx_b = perm[i:i + 64]
                opt.zero_grad()
                # softmax + sparse categorical cross-entropy, fused as Keras does on logits
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = F.cross_entropy(net(x[idx_b]), y[idx_b])
                loss.backward()
                opt.step()
            best = min(best, time.perf_counter() - t0)
        print("torch   threads %d: %.3f s/epoch (best of %d), %s" % (threads, best, epochs,
                                                             "bf16 autocast" if bf16 else "float32"))


if __name__ == "__main__":
    main()
