#!/usr/bin/python3
"""PyTorch side of Plexus's small benchmarks (bench/run.py):
  xor:   per-step overhead of a 2-2-1 network (sigmoid units, MSE, SGD lr 0.5,
         batch 4, the starting weights of bench/bench_xor_steps.c), timed over
         blocks of --steps zero_grad/forward/backward/step iterations;
  infer: the course's Fashion-MNIST MLP (784-300-100-10, Glorot weights) in
         inference mode: images per second over the test images at batch 1 and
         batch 1,000, and the latency of one single-image call.
Prints the same result lines as bench_xor_steps / bench_infer.
Usage: torch_micro.py xor|infer [--steps N] [--images N] [--reps R] [--threads T]"""
import argparse, statistics, sys, time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_fashion_mlp import DIR, idx  # noqa: E402


def xor(a):
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
    y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1), torch.nn.Sigmoid())
    with torch.no_grad():  # torch stores W as (out, in): the transpose of Plexus's x@W layout
        model[0].weight.copy_(torch.tensor([[0.5, -0.4], [0.3, 0.8]]).T)
        model[2].weight.copy_(torch.tensor([[0.6], [-0.5]]).T)
        model[0].bias.zero_()
        model[2].bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    lossf = torch.nn.MSELoss()
    times = []
    for r in range(-1, a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            opt.zero_grad()
            loss = lossf(model(x), y)
            loss.backward()
            opt.step()
        if r >= 0:
            times.append((time.perf_counter() - t0) / a.steps)
    print(f"torch xor 2-2-1 batch 4, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{a.steps} steps x {a.reps} reps")
    print(f"graph_us_per_step {statistics.median(times) * 1e6:.4f} {min(times) * 1e6:.4f} {max(times) * 1e6:.4f} "
          f"loss {loss.item():.5f}")


def infer(a):
    xt = torch.tensor(idx(f"{DIR}/t10k-images-idx3-ubyte.gz").reshape(-1, 784)[:a.images], dtype=torch.float32) / 255.0
    torch.manual_seed(42)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10), torch.nn.Softmax(dim=1))
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    model.eval()
    n = xt.shape[0]
    print(f"torch mlp inference, torch {torch.__version__}, threads {torch.get_num_threads()}, {n} images")

    def predict(batch):  # the whole set, as Plexus's px_model_predict does (outputs gathered)
        with torch.inference_mode():
            return torch.cat([model(xt[i:i + batch]) for i in range(0, n, batch)])

    for batch in (1, 1000):
        ts = []
        for r in range(-1, a.reps):
            t0 = time.perf_counter()
            predict(batch)
            if r >= 0:
                ts.append(time.perf_counter() - t0)
        print(f"batch{batch}_images_per_s {n / statistics.median(ts):.1f}")
    one = xt[:1]
    lat = []
    with torch.inference_mode():
        for i in range(-200, 2000):
            t0 = time.perf_counter()
            model(one)
            dt = time.perf_counter() - t0
            if i >= 0:
                lat.append(dt)
    lat.sort()
    print(f"latency_us {statistics.median(lat) * 1e6:.2f} {lat[len(lat) * 99 // 100] * 1e6:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["xor", "infer"])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    np.random.seed(0)
    xor(a) if a.what == "xor" else infer(a)


if __name__ == "__main__":
    main()
