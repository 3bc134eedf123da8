#!/usr/bin/python3
"""Hostile and broken Keras files: each is refused with an Error (exit 1) whose message names the file and the
reason (and the layer, where there is one). TF.js variants come from keras_tiny_models.py; HDF5 ones are written
here with h5py in Keras 2's layout, then damaged."""
import json
import os
import shutil
import subprocess

import h5py
import numpy as np

from keras_common import ROOT, WORK, Checks, tool


def expect_error(c, what, model, *fragments):
    rc, out, err = tool("graph", model)
    ok = rc == 1 and all(f in err for f in fragments) and not out.strip()
    c.check(ok, f"{what}: refused naming {fragments} (exit {rc}: {err.strip()[:200]})")


def main():
    c = Checks()
    tiny = os.path.join(WORK, "tiny-hostile")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "nn", "keras_tiny_models.py"), tiny], check=True)
    j = lambda name: os.path.join(tiny, name, "model.json")
    expect_error(c, "shard path escaping the folder", j("hostile_escape"), "hostile_escape", "leaves the model's folder")
    expect_error(c, "absolute shard path", j("hostile_absolute"), "/etc/passwd", "not relative")
    expect_error(c, "shard shorter than the manifest", j("hostile_short"), "hostile_short", "manifest needs more")
    expect_error(c, "NaN weight", j("hostile_nan"), "conv_a/kernel", "non-finite", "nan")
    expect_error(c, "Inf weight", j("hostile_inf"), "out/bias", "non-finite", "inf")
    expect_error(c, "Lambda layer", j("hostile_lambda"), "'tanh'", "Lambda", "never run")
    expect_error(c, "unsupported layer class", j("hostile_lstm"), "'tanh'", "LSTM", "not supported")
    expect_error(c, "manifest shape unlike the layer's", j("hostile_wrong_shape"), "'conv_a'", "kernel", "[3, 3, 3, 8]")

    # Longer shard than the manifest describes.
    longer = os.path.join(tiny, "hostile_long")
    shutil.copytree(os.path.join(tiny, "functional_float32"), longer, dirs_exist_ok=True)
    with open(os.path.join(longer, "group1-shard1of1.bin"), "ab") as f:
        f.write(b"\0" * 8)
    expect_error(c, "shard longer than the manifest", os.path.join(longer, "model.json"), "manifest describes")

    # A manifest whose dimensions multiply past 2^64 (wrapping to a small count if multiplied unchecked).
    overflow = os.path.join(tiny, "hostile_overflow")
    shutil.copytree(os.path.join(tiny, "functional_float32"), overflow, dirs_exist_ok=True)
    with open(os.path.join(overflow, "model.json")) as f:
        spec = json.load(f)
    spec["weightsManifest"][0]["weights"][0]["shape"] = [2**31, 2**31, 2**31, 8]
    with open(os.path.join(overflow, "model.json"), "w") as f:
        json.dump(spec, f)
    name = spec["weightsManifest"][0]["weights"][0]["name"]
    expect_error(c, "manifest shape whose size overflows", os.path.join(overflow, "model.json"), name, "bad shape")

    # HDF5 files in Keras 2's layout (h5py), from the float32 tiny model, then damaged.
    writer = os.path.join(ROOT, "tests", "nn", "keras_write_h5.py")
    good = os.path.join(tiny, "good.h5")
    subprocess.run(["/usr/bin/python3", writer, "full", os.path.join(tiny, "functional_float32"), good], check=True)
    rc, _, err = tool("graph", good)
    c.check(rc == 0, f"the undamaged HDF5 imports {err.strip()[:200]}")

    def damaged(name, edit):
        path = os.path.join(tiny, name + ".h5")
        shutil.copy(good, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    def wrong_shape(f):
        g = f["model_weights/conv_a"]
        del g["conv_a/kernel:0"]
        g.create_dataset("conv_a/kernel:0", data=np.zeros((3, 3, 8, 3), np.float32))

    def missing(f):
        g = f["model_weights/sep"]
        del g["sep/pointwise_kernel:0"]

    def unlisted(f):
        g = f["model_weights/sep"]
        g.attrs["weight_names"] = np.array([b"sep/depthwise_kernel:0", b"sep/bias:0"])

    def extra_layer(f):
        mw = f["model_weights"]
        g = mw.create_group("ghost")
        g.attrs["weight_names"] = np.array([b"ghost/kernel:0"])
        g.create_dataset("ghost/kernel:0", data=np.ones((2, 2), np.float32))
        mw.attrs["layer_names"] = np.array(list(mw.attrs["layer_names"]) + [b"ghost"])

    def inf(f):
        d = f["model_weights/fc1/fc1/bias:0"]
        v = d[()]
        v[3] = np.inf
        d[...] = v

    def lam(f):
        cfg = json.loads(f.attrs["model_config"])
        for l in cfg["config"]["layers"]:
            if l["name"] == "tanh":
                l["class_name"] = "Lambda"
        f.attrs["model_config"] = json.dumps(cfg).encode()

    def listed_not_there(f):
        mw = f["model_weights"]
        mw.attrs["layer_names"] = np.array(list(mw.attrs["layer_names"]) + [b"nowhere"])

    expect_error(c, "HDF5 dataset shape unlike the layer's", damaged("h5_wrong_shape", wrong_shape), "'conv_a'", "kernel", "shape")
    expect_error(c, "HDF5 weight listed but missing", damaged("h5_missing", missing), "sep", "pointwise_kernel", "missing")
    expect_error(c, "HDF5 layer lacking a weight in weight_names", damaged("h5_unlisted", unlisted), "'sep'", "pointwise_kernel")
    expect_error(c, "HDF5 weights for a layer the model lacks", damaged("h5_extra", extra_layer), "ghost", "no layer")
    expect_error(c, "HDF5 layer_names naming no group", damaged("h5_listed", listed_not_there), "nowhere")
    expect_error(c, "HDF5 Inf weight", damaged("h5_inf", inf), "fc1", "non-finite")
    expect_error(c, "HDF5 model_config with a Lambda layer", damaged("h5_lambda", lam), "'tanh'", "Lambda")

    # A weights-only file that matches no built-in architecture.
    wo = os.path.join(tiny, "weights_only_unknown.h5")
    subprocess.run(["/usr/bin/python3", writer, "weights", os.path.join(tiny, "functional_float32"), wo, "out"], check=True)
    expect_error(c, "weights-only file of no built-in architecture", wo, "weights-only", "no built-in architecture")
    expect_error(c, "weights-only file against a named architecture it does not fit", "inception_v3:" + wo,
                 "inception_v3")
    # Not HDF5 at all; truncated HDF5.
    bad = os.path.join(tiny, "not_hdf5.h5")
    with open(bad, "wb") as f:
        f.write(b"this is not an HDF5 file\n" * 10)
    expect_error(c, "not an HDF5 file", bad, "not_hdf5.h5", "not an HDF5 file")
    cut = os.path.join(tiny, "truncated.h5")
    with open(good, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    rc, out, err = tool("graph", cut)
    c.check(rc == 1 and "truncated.h5" in err, f"truncated HDF5 refused naming the file ({err.strip()[:200]})")
    # A model.json that is not JSON; a missing file.
    nj = os.path.join(tiny, "broken.json")
    with open(nj, "w") as f:
        f.write('{"modelTopology": [')
    expect_error(c, "model.json that is not JSON", nj, "broken.json", "not JSON")
    rc, _, err = tool("graph", os.path.join(tiny, "absent.h5"))
    c.check(rc == 1 and "absent.h5" in err, f"missing file named ({err.strip()[:200]})")
    c.finish()


if __name__ == "__main__":
    main()
