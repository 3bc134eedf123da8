#!/usr/bin/python3
"""Every Keras layer kind the importer accepts, in small models with random weights (tests/nn/keras_tiny_models.py),
run by xfer and by TF.js on the same TF.js layers files: float32, float16, uint8 and uint16 weights, a Functional
and a Keras 2.2 Sequential model. ReLU's negative_slope is checked against Keras' formula in numpy instead, since
TF.js's ReLU layer ignores it."""
import json
import os
import subprocess

import numpy as np

from keras_common import ROOT, WORK, Checks, tool

TOL = 1e-4


def main():
    c = Checks()
    tiny = os.path.join(WORK, "tiny")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "nn", "keras_tiny_models.py"), tiny], check=True)
    with open(os.path.join(tiny, "probes.json")) as f:
        probes = json.load(f)
    rng = np.random.default_rng(7)
    shapes = {"functional": (17, 17, 3), "sequential": (9, 8, 2), "elu": (6, 6, 3), "leaky_relu": (4, 5, 3)}
    for model, layers in probes.items():
        shape = next(v for k, v in shapes.items() if model.startswith(k))
        inputs = os.path.join(tiny, f"{model}_in.npy")
        x = rng.normal(0, 2, size=(5, *shape)).astype(np.float32)
        np.save(inputs, x)
        model_dir = os.path.join(tiny, model)
        got = os.path.join(tiny, f"{model}_xfer")
        os.makedirs(got, exist_ok=True)
        rc, _, err = tool("run", os.path.join(model_dir, "model.json"), inputs, got, *layers)
        c.check(rc == 0, f"{model}: keras_tool run succeeds {err.strip()[:300]}")
        if rc != 0:
            continue
        if model == "leaky_relu":
            y = np.load(os.path.join(got, "output.npy"))
            expect = np.where(x >= 6.0, 6.0, np.where(x >= 0, x, 0.1 * x)).astype(np.float32)
            c.check(float(np.abs(y - expect).max()) <= 1e-6, f"{model}: ReLU(max_value=6, negative_slope=0.1) as Keras defines it")
            continue
        ref = os.path.join(tiny, f"{model}_tfjs")
        subprocess.run(["node", os.path.join(ROOT, "tests", "nn", "keras_tfjs_reference.mjs"), model_dir, inputs, ref,
                        *layers], check=True)
        for layer in layers:
            a, b = np.load(os.path.join(ref, layer + ".npy")), np.load(os.path.join(got, layer + ".npy"))
            diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
            c.check(diff <= TOL, f"{model} {layer} {a.shape} vs TF.js: max |diff| {diff:.3g} <= {TOL}")
    c.finish()


if __name__ == "__main__":
    main()
