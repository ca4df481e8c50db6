#!/usr/bin/python3
"""Checks with h5py that a Keras-shaped file written by px_h5 (test_h5util's
saved.h5) stores its strings the way h5py/Keras do and reads back as Keras reads it."""
import sys

import h5py
import numpy as np


def kind(attrs, name):
    t = attrs.get_id(name).get_type()
    if t.get_class() != h5py.h5t.STRING:
        return "class %d" % t.get_class()
    cset = "utf8" if t.get_cset() == h5py.h5t.CSET_UTF8 else "ascii"
    if t.is_variable_str():
        return "vlen " + cset
    pad = {h5py.h5t.STR_NULLPAD: "nullpad", h5py.h5t.STR_NULLTERM: "nullterm"}.get(t.get_strpad(), "spacepad")
    return "S%d %s %s" % (t.get_size(), pad, cset)


def main(path):
    errors = []

    def expect(what, got, want):
        if got != want:
            errors.append("%s: got %r, want %r" % (what, got, want))

    with h5py.File(path, "r") as f:
        expect("keras_version type", kind(f.attrs, "keras_version"), "vlen utf8")
        expect("model_config type", kind(f.attrs, "model_config"), "vlen ascii")
        # h5py 3 returns str for vlen strings of either cset
        expect("keras_version", f.attrs["keras_version"], "3.8.0")
        mw = f["model_weights"]
        expect("layer_names type", kind(mw.attrs, "layer_names"), "S7 nullpad ascii")
        # the expressions Keras's legacy loader uses
        layers = [n.decode("utf8") if hasattr(n, "decode") else n for n in mw.attrs["layer_names"]]
        expect("layer_names", layers, ["dense", "dropout", "dense_1"])
        wn = [n.decode("utf8") for n in mw["dense"].attrs["weight_names"]]
        expect("weight_names", wn, ["dense/kernel:0", "dense/bias:0"])
        empty = mw["dropout"].attrs["weight_names"]
        expect("empty weight_names", (empty.dtype, empty.shape), (np.dtype("float64"), (0,)))
        k = mw["dense"][wn[0]]
        expect("kernel", (k.dtype, k.shape), (np.dtype("float32"), (4, 3)))
        expect("transposed kernel", mw["dense_1/dense_1/kernel:0"][()].tolist(), [[1, 4], [2, 5], [3, 6]])
    for e in errors:
        print("h5py check:", e)
    print("h5py check of %s: %s" % (path, "ok" if not errors else "%d problems" % len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
