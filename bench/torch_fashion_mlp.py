#!/usr/bin/python3
"""The course's Fashion-MNIST MLP trained by PyTorch with Plexus's recipe:
Glorot-uniform kernels, zero biases, SGD, sparse categorical cross-entropy,
first 55,000 training images for training, the next 5,000 for validation,
reshuffled every epoch. Prints per-epoch validation accuracy, test accuracy
and seconds per epoch, as the reference for docs/case-study.md and bench/.
Usage: torch_fashion_mlp.py [--epochs N] [--batch B] [--lr LR] [--optimizer sgd|adam] [--threads T] [--seed S]"""
import argparse, gzip, struct, time
import numpy as np
import torch

DIR = "/usr/share/datasets/fashion-mnist"

def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train", type=int, default=55000)
    ap.add_argument("--autocast-bf16", action="store_true",
                    help="the steps under torch.autocast('cpu', dtype=torch.bfloat16), as bf16 mixed precision")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    x = torch.tensor(idx(f"{DIR}/train-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255.0
    y = torch.tensor(idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.tensor(idx(f"{DIR}/t10k-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255.0
    yt = torch.tensor(idx(f"{DIR}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    # the course's split, as px_fashion_mnist_load makes it: the first 5,000 validate
    xtr, ytr, xva, yva = x[5000:5000 + a.train], y[5000:5000 + a.train], x[:5000], y[:5000]
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10))
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    if a.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    lossf = torch.nn.CrossEntropyLoss()

    def accuracy(xs, ys):
        with torch.no_grad():
            return (model(xs).argmax(1) == ys).float().mean().item()

    n = xtr.shape[0]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {a.optimizer} lr {a.lr} batch {a.batch}, "
          f"{'bf16 autocast' if a.autocast_bf16 else 'float32'}")
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            idxs = perm[i:i + a.batch]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast_bf16):
                loss = lossf(model(xtr[idxs]), ytr[idxs])
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        print(f"epoch {epoch + 1} seconds {dt:.3f} val_accuracy {accuracy(xva, yva):.4f} "
              f"test_accuracy {accuracy(xt, yt):.4f}", flush=True)

if __name__ == "__main__":
    main()
