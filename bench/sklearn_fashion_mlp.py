#!/usr/bin/python3
"""scikit-learn side of the Fashion-MNIST MLP benchmark (bench/run.py): the
course's 784-300-100-10 ReLU network as an MLPClassifier, trained for one epoch
(max_iter=1) on the first --train of the 55,000 training images with Plexus's
recipe as far as MLPClassifier allows it: Glorot-uniform weights and zero
biases (set through warm_start, since its own initialiser also draws biases),
no L2 penalty (alpha=0), plain SGD (momentum 0) or Adam (eps 1e-7), constant
learning rate, reshuffled every epoch, float32 data. Warnings (the
ConvergenceWarning of max_iter=1) are silenced. Threads: its BLAS (numpy's) is
limited through threadpoolctl and the *_NUM_THREADS variables bench/run.py sets.
Prints "epoch 1 seconds S test_accuracy A" like fashion_mlp / torch_fashion_mlp.py.
Usage: sklearn_fashion_mlp.py [--epochs N] [--batch B] [--lr LR] [--optimizer sgd|adam] [--threads T] [--train N]"""
import argparse, gzip, struct, time, warnings

import numpy as np

warnings.filterwarnings("ignore")
import sklearn  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

DIR = "/usr/share/datasets/fashion-mnist"


def idx(path):  # as torch_fashion_mlp.py's, without importing torch (it would count in the peak memory)
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def glorot(rng, fan_in, fan_out):
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, size=(fan_in, fan_out)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train", type=int, default=55000)
    a = ap.parse_args()
    x = idx(f"{DIR}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = idx(f"{DIR}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    yt = idx(f"{DIR}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    xtr, ytr = x[5000:5000 + a.train], y[5000:5000 + a.train]  # the course's split, as the Plexus side
    with threadpool_limits(limits=a.threads):
        opts = dict(solver=a.optimizer, momentum=0.0, nesterovs_momentum=False, epsilon=1e-7)
        clf = MLPClassifier(hidden_layer_sizes=(300, 100), activation="relu", alpha=0.0, batch_size=a.batch,
                            learning_rate="constant", learning_rate_init=a.lr, max_iter=1, shuffle=True,
                            random_state=a.seed, tol=0.0, n_iter_no_change=10 ** 9, warm_start=True,
                            **{k: v for k, v in opts.items() if a.optimizer == "sgd" or k == "epsilon"})
        # build the network on a sliver (every class present), then put Plexus's initial weights in
        sliver = np.concatenate([np.flatnonzero(ytr == c)[:1] for c in range(10)])
        clf.partial_fit(xtr[sliver], ytr[sliver], classes=np.arange(10))
        rng = np.random.default_rng(a.seed)
        sizes = [784, 300, 100, 10]
        clf.coefs_ = [glorot(rng, sizes[i], sizes[i + 1]) for i in range(3)]
        clf.intercepts_ = [np.zeros(sizes[i + 1], np.float32) for i in range(3)]
        print(f"sklearn {sklearn.__version__}, threads {a.threads}, {a.optimizer} lr {a.lr} batch {a.batch}")
        for e in range(a.epochs):
            t0 = time.perf_counter()
            clf.fit(xtr, ytr)  # warm_start: continues from the weights above; one epoch (max_iter=1)
            dt = time.perf_counter() - t0
            acc = float((clf.predict(xt) == yt).mean())
            print(f"epoch {e + 1} seconds {dt:.3f} test_accuracy {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
