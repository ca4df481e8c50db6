#!/usr/bin/python3
# Independent check of a .keras archive written by Plexus, with Python's zipfile and
# h5py: the members and their order, Keras 3's config.json serialization, the weights
# at layers/<snake_case class>[_N]/vars/<i>, the optimizer's variables, and a NumPy
# forward pass (Dense, Dropout, BatchNormalization) over the weights as Keras 3 reads them.
# Usage: check_keras_archive.py model.keras io.txt   (io.txt: "n d k", n*d inputs, n*k outputs)
# Exit: 0 ok, 1 mismatch, 3 h5py/numpy missing.
import io
import json
import re
import sys
import zipfile

try:
    import h5py
    import numpy as np
except ImportError as e:
    print("missing module:", e)
    sys.exit(3)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def snake(name):
    """keras.src.utils.naming.to_snake_case"""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


ACT = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def check_serialized(obj, where):
    """Keras 3's serialize_keras_object form."""
    for k in ("module", "class_name", "config", "registered_name"):
        if k not in obj:
            fail("%s lacks %r: %r" % (where, k, obj))


def main():
    path, io_path = sys.argv[1], sys.argv[2]
    z = zipfile.ZipFile(path)
    infos = z.infolist()
    if [i.filename for i in infos] != ["metadata.json", "config.json", "model.weights.h5"]:
        fail("members %r" % [i.filename for i in infos])
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        fail("members are not stored uncompressed, as Keras writes them")
    if z.testzip() is not None:
        fail("CRC error in %s" % z.testzip())
    meta = json.loads(z.read("metadata.json"))
    if not meta.get("keras_version", "").startswith("3.") or not re.match(r"\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$", meta.get("date_saved", "")):
        fail("metadata.json %r" % meta)
    cfg = json.loads(z.read("config.json"))
    check_serialized(cfg, "config.json")
    if cfg["class_name"] != "Sequential" or "build_config" not in cfg or "compile_config" not in cfg:
        fail("config.json root %r" % {k: v for k, v in cfg.items() if k != "config"})
    cc = cfg["compile_config"]
    for k in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile"):
        if k not in cc:
            fail("compile_config lacks %s" % k)
    check_serialized(cc["optimizer"], "compile_config optimizer")
    layers = cfg["config"]["layers"]
    if layers[0]["class_name"] != "InputLayer" or "batch_shape" not in layers[0]["config"]:
        fail("a Keras 3 Sequential starts with an InputLayer with batch_shape: %r" % layers[0])
    for e in layers:
        check_serialized(e, "layer %s" % e["config"].get("name"))
        c = e["config"]
        if e["class_name"] != "InputLayer":
            if "build_config" not in e:
                fail("layer %s lacks build_config" % c["name"])
            if not isinstance(c.get("dtype"), dict) or c["dtype"].get("class_name") != "DTypePolicy":
                fail("layer %s dtype %r is not a DTypePolicy" % (c["name"], c.get("dtype")))
            if "batch_input_shape" in c:
                fail("layer %s has Keras 2's batch_input_shape" % c["name"])
            for k, v in c.items():
                if k.endswith("_initializer") and isinstance(v, dict):
                    check_serialized(v, "%s.%s" % (c["name"], k))
    w = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    if "vars" not in w or "layers" not in w:
        fail("model.weights.h5 lacks vars/ or layers/")
    # Keras 3 names the groups by class and position (Sequential: without its InputLayer)
    used, keys = {}, []
    for e in layers[1:]:
        base = snake(e["class_name"])
        used[base] = used.get(base, -1) + 1
        keys.append(base if used[base] == 0 else "%s_%d" % (base, used[base]))
    if sorted(keys) != sorted(w["layers"].keys()):
        fail("layer groups %r, expected %r" % (sorted(w["layers"].keys()), sorted(keys)))
    for k in keys:
        if "vars" not in w["layers"][k]:
            fail("layers/%s has no vars group" % k)
    n_trainable = 0
    for e, k in zip(layers[1:], keys):
        v = w["layers"][k]["vars"]
        n_trainable += {"Dense": 2, "BatchNormalization": 2}.get(e["class_name"], 0)
        want = {"Dense": 2, "BatchNormalization": 4}.get(e["class_name"], 0)
        if len(v) != want:
            fail("layers/%s/vars holds %d datasets, %s has %d" % (k, len(v), e["class_name"], want))
    ov = w["optimizer"]["vars"]
    if ov["0"].dtype != np.int64 or ov["0"].shape != () or ov["1"].dtype != np.float32:
        fail("optimizer/vars/0 must be the int64 iteration count and /1 the learning rate")
    if len(ov) != 2 + 2 * n_trainable:
        fail("optimizer/vars holds %d datasets; Adam keeps 2 + 2 x %d" % (len(ov), n_trainable))
    with open(io_path) as t:
        n, d, k = (int(x) for x in t.readline().split())
        vals = [float(x) for x in t.read().split()]
    x = np.array(vals[: n * d]).reshape(n, d)
    want = np.array(vals[n * d:]).reshape(n, k)
    if int(ov["0"][()]) <= 0:
        fail("iteration count %r after training" % ov["0"][()])
    for e, key in zip(layers[1:], keys):
        c, v = e["config"], w["layers"][key]["vars"]
        if e["class_name"] == "Dense":
            x = ACT[c["activation"]](x @ v["0"][()].astype(np.float64) + v["1"][()])
        elif e["class_name"] == "BatchNormalization":
            g, b, mean, var = (v[str(i)][()].astype(np.float64) for i in range(4))
            x = (x - mean) / np.sqrt(var + c["epsilon"]) * g + b
        elif e["class_name"] != "Dropout":
            fail("the check knows Dense, BatchNormalization and Dropout, not %s" % e["class_name"])
    err = np.abs(x - want).max()
    if err > 1e-5:
        fail("NumPy forward pass differs from Plexus's predictions by %g" % err)
    print("ok: %s (%d layers, largest difference %.2g)" % (path, len(keys), err))


if __name__ == "__main__":
    main()
