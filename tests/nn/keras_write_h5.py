#!/usr/bin/python3
"""Writes Keras 2 HDF5 files from a TF.js layers model with Debian's h5py, following the layout Keras 2.2.4's
save_model / save_weights write (keras/engine/saving.py):
  full:    root attrs keras_version, backend, model_config (JSON bytes); group model_weights with attrs
           layer_names, backend, keras_version; model_weights/<layer> with attr weight_names and datasets
           <layer>/<weight>:0 (so model_weights/conv2d_1/conv2d_1/kernel:0)
  weights: the same layer groups at the root (save_weights), for the layers of a base architecture only
Weights are dequantised here with numpy (q * scale + min, as TF.js does), independently of xfer.
Usage: keras_write_h5.py full MODEL_DIR OUT.h5
       keras_write_h5.py weights MODEL_DIR OUT.h5 LAST_BASE_LAYER   (layers up to and including it)"""
import json
import os
import sys

import h5py
import numpy as np


def read_tfjs(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        model = json.load(f)
    weights = {}
    for group in model["weightsManifest"]:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q is None:
                arr = np.frombuffer(buf, dtype="<f4", count=count, offset=off).astype(np.float32)
                off += 4 * count
            elif q["dtype"] in ("uint8", "uint16"):
                dt = np.uint8 if q["dtype"] == "uint8" else np.dtype("<u2")
                raw = np.frombuffer(buf, dtype=dt, count=count, offset=off)
                off += raw.nbytes
                arr = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            elif q["dtype"] == "float16":
                arr = np.frombuffer(buf, dtype="<f2", count=count, offset=off).astype(np.float32)
                off += 2 * count
            else:
                raise ValueError(f"unknown quantisation {q}")
            layer, short = w["name"].split("/")[0], w["name"].split("/")[-1]
            weights.setdefault(layer, []).append((short, arr.reshape(w["shape"])))
    return model, weights


def write_layers(group, layer_names, weights):
    group.attrs["layer_names"] = np.array([n.encode("utf8") for n in layer_names])
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"2.2.4"
    for name in layer_names:
        g = group.create_group(name)
        ws = weights.get(name, [])
        # Keras writes an empty list as an empty float array; non-empty as fixed-length byte strings.
        g.attrs["weight_names"] = np.array([f"{name}/{short}:0".encode("utf8") for short, _ in ws]) if ws else np.array([])
        for short, arr in ws:
            g.create_dataset(f"{name}/{short}:0", data=arr)


def main():
    mode, model_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    model, weights = read_tfjs(model_dir)
    config = model["modelTopology"]["model_config"]
    names = [l["name"] for l in config["config"]["layers"]]
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        if mode == "full":
            f.attrs["keras_version"] = b"2.2.4"
            f.attrs["backend"] = b"tensorflow"
            f.attrs["model_config"] = json.dumps(config).encode("utf8")
            write_layers(f.create_group("model_weights"), names, weights)
        elif mode == "weights":
            last = sys.argv[4]
            # the base = the layers the last base layer depends on (nsfwjs's head excluded)
            by_name = {l["name"]: l for l in config["config"]["layers"]}
            base, stack = set(), [last]
            while stack:
                n = stack.pop()
                if n in base:
                    continue
                base.add(n)
                for node in by_name[n]["inbound_nodes"]:
                    stack.extend(ref[0] for ref in node)
            write_layers(f, [n for n in names if n in base], weights)
        else:
            raise SystemExit(f"unknown mode {mode}")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
