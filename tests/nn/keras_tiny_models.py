#!/usr/bin/python3
"""Small Keras 2.2.4-format TF.js layers models (model.json + one shard, random weights) that exercise every layer
kind the importer accepts, plus hostile variants. TF.js computes the reference outputs from the same files.
Usage: keras_tiny_models.py OUT_DIR      -> OUT_DIR/<model>/model.json + group1-shard1of1.bin"""
import json
import os
import sys

import numpy as np

rng = np.random.default_rng(20261123)


def ref(name):
    return [name, 0, 0, {}]


class Model:
    def __init__(self, name):
        self.name = name
        self.layers = []
        self.weights = []  # (full name, array)

    def add(self, cls, name, config, inputs, weights=()):
        config = dict(config, name=name, trainable=True)
        self.layers.append({"name": name, "class_name": cls, "config": config,
                            "inbound_nodes": [[ref(i) for i in inputs]] if inputs else []})
        for short, arr in weights:
            self.weights.append((f"{name}/{short}", np.asarray(arr, dtype=np.float32)))
        return name

    def input(self, name, shape):
        return self.add("InputLayer", name, {"batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False},
                        [])

    def config(self, output):
        return {"class_name": "Model", "config": {"name": self.name, "layers": self.layers,
                                                  "input_layers": [[self.layers[0]["name"], 0, 0]],
                                                  "output_layers": [[output, 0, 0]]}}


def w(*shape, scale=0.3):
    return rng.normal(0, scale, size=shape).astype(np.float32)


def bn_weights(c):
    return [("gamma", 1 + w(c, scale=0.2)), ("beta", w(c, scale=0.2)), ("moving_mean", w(c, scale=0.2)),
            ("moving_variance", 0.5 + rng.random(c).astype(np.float32))]


def conv_cfg(filters, k, s, padding, act, bias=True):
    return {"filters": filters, "kernel_size": [k, k], "strides": [s, s], "padding": padding,
            "data_format": "channels_last", "dilation_rate": [1, 1], "activation": act, "use_bias": bias}


def tiny_functional():
    """Every spatial layer kind on a 17x17x3 input (odd sizes: 'same' pads asymmetrically)."""
    m = Model("tiny_functional")
    x = m.input("input_1", [17, 17, 3])
    p = m.add("ZeroPadding2D", "pad", {"padding": [[1, 2], [0, 1]], "data_format": "channels_last"}, [x])  # 20x18
    c1 = m.add("Conv2D", "conv_a", conv_cfg(8, 3, 2, "same", "relu6"), [p], [("kernel", w(3, 3, 3, 8)), ("bias", w(8))])
    d1 = m.add("DepthwiseConv2D", "dw", {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                                         "depth_multiplier": 2, "data_format": "channels_last", "dilation_rate": [1, 1],
                                         "activation": "linear", "use_bias": True},
               [c1], [("depthwise_kernel", w(3, 3, 8, 2)), ("bias", w(16))])
    b1 = m.add("BatchNormalization", "bn", {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True,
                                            "scale": True}, [d1], bn_weights(16))
    # TF.js's ReLU layer implements max_value only (it ignores negative_slope and threshold): see tiny_leaky_relu.
    r1 = m.add("ReLU", "relu6b", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}, [b1])
    s1 = m.add("SeparableConv2D", "sep", dict(conv_cfg(12, 3, 2, "same", "sigmoid"), depth_multiplier=1), [r1],
               [("depthwise_kernel", w(3, 3, 16, 1)), ("pointwise_kernel", w(1, 1, 16, 12)), ("bias", w(12))])  # 5x5
    mp = m.add("MaxPooling2D", "maxpool", {"pool_size": [3, 3], "strides": [1, 1], "padding": "same",
                                           "data_format": "channels_last"}, [s1])
    ap = m.add("AveragePooling2D", "avgpool", {"pool_size": [3, 3], "strides": [1, 1], "padding": "same",
                                               "data_format": "channels_last"}, [s1])
    ad = m.add("Add", "add", {}, [mp, ap])
    mu = m.add("Multiply", "mul", {}, [ad, s1])
    cat = m.add("Concatenate", "cat", {"axis": -1}, [mu, mp])  # 5x5x24
    cr = m.add("Cropping2D", "crop", {"cropping": [[1, 0], [0, 2]], "data_format": "channels_last"}, [cat])  # 4x3x24
    th = m.add("Activation", "tanh", {"activation": "tanh"}, [cr])
    gm = m.add("GlobalMaxPooling2D", "gmax", {"data_format": "channels_last"}, [cat])
    ga = m.add("GlobalAveragePooling2D", "gavg", {"data_format": "channels_last"}, [cat])
    fl = m.add("Flatten", "flat", {"data_format": "channels_last"}, [th])  # 288, NHWC order
    d_1 = m.add("Dense", "fc1", {"units": 7, "activation": "relu", "use_bias": True}, [fl],
                [("kernel", w(288, 7, scale=0.1)), ("bias", w(7))])
    dr = m.add("Dropout", "drop", {"rate": 0.5, "noise_shape": None, "seed": None}, [d_1])
    cat2 = m.add("Concatenate", "cat2", {"axis": 1}, [dr, gm, ga])  # 55
    out = m.add("Dense", "out", {"units": 5, "activation": "softmax", "use_bias": True}, [cat2],
                [("kernel", w(55, 5)), ("bias", w(5))])
    return m, m.config(out), ["conv_a", "sep", "cat", "flat", "cat2", "output"]


def tiny_sequential():
    """A Keras 2.2 Sequential (config is a plain list) with Reshape and more activations."""
    layers = [
        {"class_name": "Conv2D", "config": dict(conv_cfg(4, 3, 1, "valid", "linear", bias=False), name="c",
                                                 batch_input_shape=[None, 9, 8, 2], dtype="float32")},
        {"class_name": "Activation", "config": {"name": "swish", "activation": "swish"}},
        {"class_name": "Reshape", "config": {"name": "rs", "target_shape": [7, 12, 2]}},
        {"class_name": "BatchNormalization", "config": {"name": "bn2", "axis": 3, "epsilon": 0.01, "center": False,
                                                        "scale": False}},
        {"class_name": "ReLU", "config": {"name": "relu", "max_value": None, "negative_slope": 0.0, "threshold": 0.0}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "fc", "units": 3, "activation": "tanh", "use_bias": True}},
    ]
    weights = [("c/kernel", w(3, 3, 2, 4)), ("bn2/moving_mean", w(2)), ("bn2/moving_variance", 0.5 + rng.random(2)),
               ("fc/kernel", w(168, 3, scale=0.1)), ("fc/bias", w(3))]
    m = Model("tiny_sequential")
    m.weights = [(n, np.asarray(a, dtype=np.float32)) for n, a in weights]
    return m, {"class_name": "Sequential", "config": layers}, ["rs", "flat", "output"]


def tiny_leaky_relu():
    """ReLU(max_value, negative_slope): checked against Keras' formula in numpy, since TF.js ignores the slope."""
    m = Model("tiny_leaky_relu")
    x = m.input("input_1", [4, 5, 3])
    r = m.add("ReLU", "leaky6", {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.0}, [x])
    return m, m.config(r), ["output"]


def tiny_elu():
    m = Model("tiny_elu")
    x = m.input("input_1", [6, 6, 3])
    c = m.add("Conv2D", "conv", conv_cfg(4, 3, 1, "same", "elu"), [x], [("kernel", w(3, 3, 3, 4)), ("bias", w(4))])
    g = m.add("GlobalAveragePooling2D", "gap", {"data_format": "channels_last"}, [c])
    return m, m.config(g), ["conv", "output"]


def write(out_dir, name, model, config, quant=None, tweak=None):
    """quant: None (float32), 'float16', 'uint8', 'uint16'. tweak(model_json, shard_bytes) for hostile files."""
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    specs, parts = [], []
    for full, arr in model.weights:
        spec = {"name": full, "shape": list(arr.shape), "dtype": "float32"}
        if quant is None:
            parts.append(arr.astype("<f4").tobytes())
        elif quant == "float16":
            spec["quantization"] = {"dtype": "float16"}
            parts.append(arr.astype("<f2").tobytes())
        else:
            levels = 255 if quant == "uint8" else 65535
            lo, hi = float(arr.min()), float(arr.max())
            scale = (hi - lo) / levels if hi > lo else 1.0
            q = np.round((arr.astype(np.float64) - lo) / scale).clip(0, levels)
            spec["quantization"] = {"dtype": quant, "min": lo, "scale": scale}
            parts.append(q.astype(np.uint8 if quant == "uint8" else "<u2").tobytes())
        specs.append(spec)
    model_json = {"format": "layers-model", "generatedBy": "keras v2.2.4", "convertedBy": "xfer tests",
                  "modelTopology": {"keras_version": "2.2.4", "backend": "tensorflow", "model_config": config},
                  "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": specs}]}
    shard = b"".join(parts)
    if tweak:
        model_json, shard = tweak(model_json, shard)
    with open(os.path.join(d, "group1-shard1of1.bin"), "wb") as f:
        f.write(shard)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model_json, f)
    return d


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    layers = {}
    m, cfg, probe = tiny_functional()
    for q in [None, "float16", "uint8", "uint16"]:
        name = "functional_" + (q or "float32")
        write(out, name, m, cfg, q)
        layers[name] = probe
    ms, cfgs, probes = tiny_sequential()
    write(out, "sequential", ms, cfgs)
    layers["sequential"] = probes
    ml, cfgl, probel = tiny_leaky_relu()
    write(out, "leaky_relu", ml, cfgl)
    layers["leaky_relu"] = probel
    me, cfge, probee = tiny_elu()
    write(out, "elu", me, cfge)
    layers["elu"] = probee

    # Hostile variants of the float32 functional model.
    def escape(j, b):
        j["weightsManifest"][0]["paths"] = ["../functional_float32/group1-shard1of1.bin"]
        return j, b

    def absolute(j, b):
        j["weightsManifest"][0]["paths"] = ["/etc/passwd"]
        return j, b

    def short(j, b):
        return j, b[:-100]

    def nan(j, b):
        arr = bytearray(b)
        arr[40:44] = np.array([np.nan], dtype="<f4").tobytes()
        return j, bytes(arr)

    def inf(j, b):
        arr = bytearray(b)
        arr[-4:] = np.array([np.inf], dtype="<f4").tobytes()
        return j, bytes(arr)

    def lam(j, b):
        layers_ = j["modelTopology"]["model_config"]["config"]["layers"]
        i = next(k for k, l in enumerate(layers_) if l["name"] == "tanh")
        layers_[i] = {"name": "tanh", "class_name": "Lambda",
                      "config": {"name": "tanh", "function": ["4wEAAAAAAAAAAQAAAAQAAABTAAAAcw", None, None],
                                 "function_type": "lambda", "output_shape": None, "arguments": {}},
                      "inbound_nodes": layers_[i]["inbound_nodes"]}
        return j, b

    def lstm(j, b):
        layers_ = j["modelTopology"]["model_config"]["config"]["layers"]
        i = next(k for k, l in enumerate(layers_) if l["name"] == "tanh")
        layers_[i]["class_name"] = "LSTM"
        return j, b

    def wrong_shape(j, b):
        for spec in j["weightsManifest"][0]["weights"]:
            if spec["name"] == "conv_a/kernel":
                spec["shape"] = [3, 3, 8, 3]
        return j, b

    for name, tweak in [("escape", escape), ("absolute", absolute), ("short", short), ("nan", nan), ("inf", inf),
                        ("lambda", lam), ("lstm", lstm), ("wrong_shape", wrong_shape)]:
        write(out, "hostile_" + name, m, cfg, None, tweak)
    with open(os.path.join(out, "probes.json"), "w") as f:
        json.dump(layers, f)


if __name__ == "__main__":
    main()
