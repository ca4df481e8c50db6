#!/usr/bin/python3
"""An independent NumPy forward pass of a Keras 2 HDF5 Sequential model, for the C tests.

Usage: keras_numpy_forward.py MODEL.h5 INPUT.txt OUTPUT.txt
INPUT.txt holds the input batch as whitespace-separated numbers, the first line its shape;
OUTPUT.txt gets the predictions the same way. Reads model_config and model_weights with
h5py and computes each layer from Keras's own equations (not from Plexus's code):
InputLayer, Embedding (mask_zero), SimpleRNN, GRU (reset_after either way), LSTM (with
masks as Keras's backend.rnn applies them), Dense, Activation, Dropout (identity).
"hard_sigmoid" is Keras 2's 0.2 x + 0.5 in files of keras_version 2.x, else relu6(x + 3) / 6.
"""
import json
import sys

import h5py
import numpy as np


def act_fn(name, k2):
    if isinstance(name, dict):
        name, k2 = name.get("config"), False
    sig = lambda x: 1 / (1 + np.exp(-x))
    table = {
        "linear": lambda x: x, None: lambda x: x, "tanh": np.tanh, "sigmoid": sig,
        "relu": lambda x: np.maximum(x, 0),
        "hard_sigmoid": (lambda x: np.clip(0.2 * x + 0.5, 0, 1)) if k2 else (lambda x: np.clip(x / 6 + 0.5, 0, 1)),
        "softsign": lambda x: x / (1 + np.abs(x)), "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
        "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
    }
    return table[name]


def main():
    path, inp, outp = sys.argv[1:4]
    with open(inp) as f:
        shape = tuple(int(v) for v in f.readline().split())
        x = np.array(f.read().split(), dtype=np.float64).reshape(shape)
    f = h5py.File(path, "r")
    kv = f.attrs.get("keras_version", b"2")
    kv = kv.decode() if isinstance(kv, bytes) else str(kv)
    k2 = kv.startswith("2") or kv.startswith("1")
    cfg = json.loads(f.attrs["model_config"])
    layers = cfg["config"]["layers"] if isinstance(cfg["config"], dict) else cfg["config"]
    mw = f["model_weights"]
    mask = None
    for layer in layers:
        cls, c = layer["class_name"], layer["config"]
        g = mw[c["name"]] if c["name"] in mw else None
        w = [np.array(g[n], dtype=np.float64) for n in g.attrs["weight_names"]] if g is not None else []
        if cls in ("InputLayer", "Dropout"):
            continue
        if cls == "Embedding":
            ids = x.astype(np.int64)
            if c.get("mask_zero"):
                mask = ids != 0
            x = w[0][ids]
        elif cls in ("SimpleRNN", "GRU", "LSTM"):
            x = rnn(cls, c, w, x, mask, k2)
            if not c.get("return_sequences"):
                mask = None
        elif cls == "Dense":
            x = x @ w[0] + (w[1] if len(w) > 1 else 0)
            x = act_fn(c.get("activation", "linear"), k2)(x)
        elif cls == "Activation":
            x = act_fn(c["activation"], k2)(x)
        else:
            raise SystemExit(f"keras_numpy_forward: layer class {cls} is not handled")
    with open(outp, "w") as f:
        f.write(" ".join(str(d) for d in x.shape) + "\n")
        f.write(" ".join(repr(float(v)) for v in x.reshape(-1)) + "\n")


def rnn(cls, c, w, x, mask, k2):
    act = act_fn(c.get("activation", "tanh"), k2)
    ract = act_fn(c.get("recurrent_activation", "sigmoid"), k2)
    kernel, rk = w[0], w[1]
    bias = w[2] if len(w) > 2 else None
    B, T, _ = x.shape
    u = rk.shape[0]
    h, cc = np.zeros((B, u)), np.zeros((B, u))
    outs = np.zeros((B, T, u))
    prev_out = np.zeros((B, u))
    steps = range(T - 1, -1, -1) if c.get("go_backwards") else range(T)
    for i, t in enumerate(steps):
        xt = x[:, t]
        if cls == "SimpleRNN":
            nh = act(xt @ kernel + h @ rk + (bias if bias is not None else 0))
            nc = cc
        elif cls == "LSTM":
            z = xt @ kernel + h @ rk + (bias if bias is not None else 0)
            ig, fg, cg, og = ract(z[:, :u]), ract(z[:, u:2 * u]), act(z[:, 2 * u:3 * u]), ract(z[:, 3 * u:])
            nc = fg * cc + ig * cg
            nh = og * act(nc)
        else:
            reset_after = c.get("reset_after", False)
            if reset_after:
                bi, br = (bias[0], bias[1]) if bias is not None else (0, 0)
                mx, mh = xt @ kernel + bi, h @ rk + br
                zz, rr = ract(mx[:, :u] + mh[:, :u]), ract(mx[:, u:2 * u] + mh[:, u:2 * u])
                hh = act(mx[:, 2 * u:] + rr * mh[:, 2 * u:])
            else:
                b = bias if bias is not None else np.zeros(3 * u)
                mx = xt @ kernel + b
                zz = ract(mx[:, :u] + h @ rk[:, :u])
                rr = ract(mx[:, u:2 * u] + h @ rk[:, u:2 * u])
                hh = act(mx[:, 2 * u:] + (rr * h) @ rk[:, 2 * u:])
            nh = zz * h + (1 - zz) * hh
            nc = cc
        if mask is not None:
            m = mask[:, t][:, None]
            out = np.where(m, nh, prev_out)
            h, cc = np.where(m, nh, h), np.where(m, nc, cc)
        else:
            out, h, cc = nh, nh, nc
        outs[:, i] = out
        prev_out = out
    return outs if c.get("return_sequences") else outs[:, -1]


if __name__ == "__main__":
    main()
