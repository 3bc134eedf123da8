#!/usr/bin/python3
"""The real pretrained models: nsfwjs@4.4.0's Keras 2.2.4 InceptionV3 and MobileNetV2 (uint8-quantised TF.js
layers files, unwrapped by scripts/fetch-nsfwjs.mjs), run by xfer's Keras importer + engine and by TF.js itself
(tests/nn/keras_tfjs_reference.mjs, tf.loadLayersModel on the same files) on 20 real Fashion-MNIST images.
Also: a Keras 2 HDF5 file written by h5py from the same weights gives xfer the identical outputs, and a
weights-only HDF5 (keras.applications' notop layout) loads against the built-in inception_v3 architecture."""
import os
import subprocess

import numpy as np

from keras_common import ROOT, TOOL, WORK, Checks, tool, unwrapped_models

TOL = 1e-3
N = 20


def tfjs(model_dir, inputs, out, layers):
    subprocess.run(["node", os.path.join(ROOT, "tests", "nn", "keras_tfjs_reference.mjs"), model_dir, inputs, out,
                    *layers], check=True)


def xfer(c, model, inputs, out, layers, what):
    os.makedirs(out, exist_ok=True)
    rc, _, err = tool("run", model, inputs, out, *layers)
    c.check(rc == 0, f"{what}: keras_tool run succeeds {err.strip()[:300]}")
    return rc == 0


def npy_name(layer):
    name, _, pool = layer.partition(":")
    return name + ("_" + pool if pool else "") + ".npy"


def compare(c, ref_dir, got_dir, layers, what, exact=False):
    worst = {}
    for layer in layers:
        f = npy_name(layer)
        a, b = np.load(os.path.join(ref_dir, f)), np.load(os.path.join(got_dir, f))
        a = a[: b.shape[0]]  # the HDF5 and featuriser checks run on the first images only
        if a.shape != b.shape:
            c.check(False, f"{what} {layer}: shape {b.shape} vs {a.shape}")
            continue
        diff = float(np.abs(a - b).max())
        worst[layer] = diff
        if exact:
            c.check(diff == 0.0, f"{what} {layer} {a.shape}: identical (max |diff| {diff:.3g})")
        else:
            c.check(diff <= TOL, f"{what} {layer} {a.shape}: max |diff| {diff:.3g} <= {TOL}")
    return worst


def main():
    c = Checks()
    cache = unwrapped_models()
    os.makedirs(WORK, exist_ok=True)
    make = os.path.join(ROOT, "tests", "nn", "keras_make_inputs.py")
    runs = [("inception_v3", 299, ["output", "flatten_1", "mixed5:avg"]),
            ("mobilenet_v2", 224, ["output", "flatten_1", "block_6_expand_relu:avg", "out_relu:avg"])]
    for arch, size, layers in runs:
        model_dir = os.path.join(cache, f"nsfwjs_{arch}")
        inputs = os.path.join(WORK, f"fashion_{size}.npy")
        subprocess.run(["/usr/bin/python3", make, inputs, str(N), str(size)], check=True)
        ref = os.path.join(WORK, f"tfjs_{arch}")
        tfjs(model_dir, inputs, ref, layers)
        got = os.path.join(WORK, f"xfer_{arch}")
        if xfer(c, os.path.join(model_dir, "model.json"), inputs, got, layers, f"nsfwjs {arch}"):
            compare(c, ref, got, layers, f"nsfwjs {arch} vs TF.js ({N} images)")
        # the 5-class decisions agree too
        if os.path.exists(os.path.join(got, "output.npy")):
            a, b = np.load(os.path.join(ref, "output.npy")), np.load(os.path.join(got, "output.npy"))
            c.check((a.argmax(1) == b.argmax(1)).all(), f"nsfwjs {arch}: same predicted class on all {N} images")

    # Keras HDF5 written with h5py from the same (dequantised) weights.
    iv3 = os.path.join(cache, "nsfwjs_inception_v3")
    writer = os.path.join(ROOT, "tests", "nn", "keras_write_h5.py")
    full = os.path.join(WORK, "nsfwjs_inception_v3_full.h5")
    notop = os.path.join(WORK, "inception_v3_weights_notop.h5")
    subprocess.run(["/usr/bin/python3", writer, "full", iv3, full], check=True)
    subprocess.run(["/usr/bin/python3", writer, "weights", iv3, notop, "mixed10"], check=True)
    # The HDF5 and featuriser checks use the first 8 of the 20 images (CI time); TF.js saw all 20.
    inputs = os.path.join(WORK, "fashion_299_first8.npy")
    np.save(inputs, np.load(os.path.join(WORK, "fashion_299.npy"))[:8])
    layers = ["output", "flatten_1", "mixed5:avg"]
    got_h5 = os.path.join(WORK, "xfer_h5_full")
    if xfer(c, full, inputs, got_h5, layers, "full HDF5"):
        compare(c, os.path.join(WORK, "xfer_inception_v3"), got_h5, layers, "full HDF5 vs TF.js-layers load", exact=True)
        compare(c, os.path.join(WORK, "tfjs_inception_v3"), got_h5, layers, "full HDF5 vs TF.js")
    rc, out, err = tool("graph", notop)
    c.check(rc == 0 and '"architecture":"inception_v3"' in out and '"include_top":"false"' in out,
            f"weights-only HDF5 is matched to the built-in inception_v3 without top {err.strip()[:200]}")
    got_notop = os.path.join(WORK, "xfer_h5_notop")
    if xfer(c, notop, inputs, got_notop, ["mixed5:avg"], "weights-only HDF5"):
        compare(c, os.path.join(WORK, "xfer_inception_v3"), got_notop, ["mixed5:avg"],
                "weights-only HDF5 on built-in inception_v3 vs TF.js-layers load", exact=True)
        compare(c, os.path.join(WORK, "tfjs_inception_v3"), got_notop, ["mixed5:avg"],
                "weights-only HDF5 on built-in inception_v3 vs TF.js")
    # The built-in name of the unwrapped model, through the cache the demo uses.
    env = dict(os.environ, XFER_MODEL_CACHE=cache)
    p = subprocess.run([TOOL, "graph", "nsfwjs_inception_v3"], capture_output=True, text=True, env=env)
    c.check(p.returncode == 0 and '"default_feature_layer":"mixed5"' in p.stdout and '"preprocessing":"tf"' in p.stdout,
            f"built-in name nsfwjs_inception_v3 finds the cache, default layer mixed5, 'tf' preprocessing {p.stderr.strip()}")
    # The demo's path: the model featuriser (make_featurizer) with --layer mixed5 --pool avg on the built-in name.
    feats = os.path.join(WORK, "featurizer_mixed5.npy")
    p = subprocess.run([TOOL, "featurize", "nsfwjs_inception_v3", "mixed5", "avg", inputs, feats],
                       capture_output=True, text=True, env=env)
    c.check(p.returncode == 0 and '"normalization":"tf"' in p.stdout and '"layout":"nhwc"' in p.stdout
            and '"width":299' in p.stdout, f"featuriser on nsfwjs_inception_v3: 299x299 NHWC 'tf' input {p.stderr.strip()[-300:]}")
    if p.returncode == 0:
        b = np.load(feats)
        a = np.load(os.path.join(WORK, "tfjs_inception_v3", "mixed5_avg.npy"))[: b.shape[0]]
        diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        c.check(diff <= TOL, f"featuriser --layer mixed5 --pool avg {b.shape} vs TF.js: max |diff| {diff:.3g} <= {TOL}")
        # The model's folder (as TF.js models ship: model.json beside its shards) names the same model.
        feats_dir = os.path.join(WORK, "featurizer_mixed5_folder.npy")
        p = subprocess.run([TOOL, "featurize", iv3, "mixed5", "avg", inputs, feats_dir], capture_output=True, text=True)
        c.check(p.returncode == 0 and os.path.exists(feats_dir) and np.array_equal(np.load(feats_dir), b),
                f"--model given the TF.js folder gives the same features as the model.json {p.stderr.strip()[-300:]}")
    c.finish()


if __name__ == "__main__":
    main()
