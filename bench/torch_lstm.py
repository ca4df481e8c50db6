#!/usr/bin/python3
"""PyTorch side of bench/bench_lstm.c (the workload of examples/lstm_fashion.c):
Fashion-MNIST images as 28 steps of 28 pixels, LSTM(128) -> Linear(10) with
softmax cross-entropy, Adam lr 1e-3 eps 1e-7, batch 64, Keras's initialisers
(Glorot-uniform input kernel, orthogonal recurrent kernel, zero biases with
forget-gate bias 1; torch's gate order i, f, g, o is Keras's i, f, c, o),
reshuffled every epoch. Prints seconds per epoch and test accuracy.
Usage: torch_lstm.py [--epochs N] [--train N] [--batch B] [--threads T] [--seed S]"""
import argparse, sys, time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_fashion_mlp import DIR, idx  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(28, 128, batch_first=True)
        self.out = torch.nn.Linear(128, 10)
        u = 128
        with torch.no_grad():
            # Keras draws Glorot over the whole (28, 4u) kernel and an orthogonal (u, 4u) matrix
            torch.nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
            torch.nn.init.orthogonal_(self.lstm.weight_hh_l0)
            self.lstm.bias_ih_l0.zero_()
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_ih_l0[u:2 * u] = 1.0
            torch.nn.init.xavier_uniform_(self.out.weight)
            self.out.bias.zero_()

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.out(h[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    # the last n training images, as px_fashion_mnist_load(NULL, n, ...) gives them
    x = torch.tensor(idx(f"{DIR}/train-images-idx3-ubyte.gz")[-a.train:], dtype=torch.float32) / 255.0
    y = torch.tensor(idx(f"{DIR}/train-labels-idx1-ubyte.gz")[-a.train:].astype(np.int64))
    xt = torch.tensor(idx(f"{DIR}/t10k-images-idx3-ubyte.gz"), dtype=torch.float32) / 255.0
    yt = torch.tensor(idx(f"{DIR}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    print(f"torch lstm, torch {torch.__version__}, threads {torch.get_num_threads()}, adam lr 0.001 batch {a.batch}, "
          f"{n} images")
    for e in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            b = perm[i:i + a.batch]
            opt.zero_grad()
            loss = lossf(net(x[b]), y[b])
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        with torch.no_grad():
            acc = (torch.cat([net(xt[i:i + 1000]) for i in range(0, len(xt), 1000)]).argmax(1) == yt).float().mean()
        print(f"epoch {e + 1} seconds {dt:.3f} test_accuracy {acc.item():.4f}", flush=True)


if __name__ == "__main__":
    main()
