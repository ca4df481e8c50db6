#!/usr/bin/python3
# Independent check of a Plexus model file with h5py: Keras's legacy layout, names
# and shapes, and a NumPy forward pass (Dense + activations) over the weights it holds.
# Usage: check_model_h5.py model.h5 io.txt   (io.txt: "n d k", n*d inputs, n*k outputs)
# Exit: 0 ok, 1 mismatch, 3 h5py/numpy missing.
import json
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:
    print("missing module:", e)
    sys.exit(3)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def names(obj, attr):
    v = obj.attrs[attr]
    if getattr(v, "dtype", None) is not None and v.dtype.kind == "f":
        if v.size != 0:
            fail("%s: %s is a non-empty float array" % (obj.name, attr))
        return []
    return [as_str(x) for x in v]


ACT = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def main():
    path, io = sys.argv[1], sys.argv[2]
    f = h5py.File(path, "r")
    for a in ("keras_version", "backend", "model_config", "training_config"):
        if a not in f.attrs:
            fail("root attribute %s missing" % a)
    if not as_str(f.attrs["keras_version"]).startswith("2."):
        fail("keras_version %r" % f.attrs["keras_version"])
    if as_str(f.attrs["backend"]) != "tensorflow":
        fail("backend")
    mc = json.loads(as_str(f.attrs["model_config"]))
    tc = json.loads(as_str(f.attrs["training_config"]))
    for k in ("loss", "metrics", "loss_weights", "optimizer_config"):
        if k not in tc:
            fail("training_config lacks %s" % k)
    oc = tc["optimizer_config"]
    if "class_name" not in oc or "learning_rate" not in oc["config"] or "name" not in oc["config"]:
        fail("optimizer_config %r" % oc)
    if mc["class_name"] != "Sequential":
        fail("model class %s" % mc["class_name"])
    layers = mc["config"]["layers"]
    for e in layers:
        c = e["config"]
        if c.get("dtype") != "float32" or "name" not in c:
            fail("layer config %r" % c)
    mw = f["model_weights"]
    for a in ("layer_names", "backend", "keras_version"):
        if a not in mw.attrs:
            fail("model_weights attribute %s missing" % a)
    lnames = names(mw, "layer_names")
    cfg_names = [e["config"]["name"] for e in layers if e["class_name"] != "InputLayer"]
    if lnames != cfg_names:
        fail("layer_names %r vs model_config %r" % (lnames, cfg_names))
    if "top_level_model_weights" not in mw:
        fail("top_level_model_weights missing")
    # the forward pass, layer by layer, from the weights as Keras would read them
    with open(io) as t:
        vals = t.read().split()
    n, d, k = int(vals[0]), int(vals[1]), int(vals[2])
    x = np.array(vals[3:3 + n * d], dtype=np.float64).reshape(n, d)
    want = np.array(vals[3 + n * d:3 + n * d + n * k], dtype=np.float64).reshape(n, k)
    h = x
    for e in layers:
        cls, c = e["class_name"], e["config"]
        if cls == "InputLayer":
            continue
        g = mw[c["name"]]
        wn = names(g, "weight_names")
        if cls == "Dense":
            if wn != ["%s/kernel:0" % c["name"], "%s/bias:0" % c["name"]]:
                fail("weight_names of %s: %r" % (c["name"], wn))
            kern, bias = g[wn[0]], g[wn[1]]
            if kern.dtype != np.float32 or kern.shape != (h.shape[1], c["units"]) or bias.shape != (c["units"],):
                fail("%s shapes %r %r" % (c["name"], kern.shape, bias.shape))
            h = ACT[c["activation"]](h @ kern[()].astype(np.float64) + bias[()])
        elif cls == "Dropout":
            if wn:
                fail("Dropout with weights")
        elif cls == "Activation":
            h = ACT[c["activation"]](h)
        else:
            fail("layer class %s not handled by this checker" % cls)
    if h.shape != want.shape or not np.allclose(h, want, rtol=1e-5, atol=1e-6):
        fail("predictions differ: max |diff| %g" % np.abs(h - want).max())
    # optimizer weights: Keras 2.11+ names and shapes
    ow = f["optimizer_weights"]
    on = names(ow, "weight_names")
    if on[0] != "iteration:0" or ow["iteration:0"].shape != ():
        fail("optimizer iteration %r" % on[:1])
    if ow["iteration:0"].dtype != np.int64:
        fail("optimizer iteration is %s; Keras writes int64" % ow["iteration:0"].dtype)
    for nm in on[1:]:
        parts = nm[:-2].split("/")
        if len(parts) != 4 or not nm.endswith(":0"):
            fail("optimizer weight name %s" % nm)
        if ow[nm].shape != mw[parts[2]]["%s/%s:0" % (parts[2], parts[3])].shape:
            fail("optimizer weight %s shape" % nm)
    print("ok: %d layers, %d optimizer weights, predictions agree" % (len(lnames), len(on)))


main()
