#!/usr/bin/python3
"""The built-in inception_v3 and mobilenet_v2 architectures (C++ builders in src/nn/keras/keras_builtin.cpp)
against the model_config Keras 2.2.4 itself wrote for nsfwjs's models (keras.applications bases + nsfwjs's own
head): same layer names, classes, connections and layer settings. Also: every built-in architecture imports."""
import sys

from keras_common import Checks, load_json, tool, unwrapped_models
import json
import os

KEYS = ["filters", "kernel_size", "strides", "padding", "use_bias", "activation", "pool_size", "epsilon", "scale",
        "center", "max_value", "negative_slope", "threshold", "depth_multiplier", "dilation_rate", "units"]


def layer_view(layer):
    cfg = layer.get("config", {})
    view = {k: cfg[k] for k in KEYS if k in cfg}
    if "axis" in cfg:
        axis = cfg["axis"]
        view["axis"] = 3 if axis in (-1, 3, [3], [-1]) else axis
    if layer["class_name"] == "ZeroPadding2D":
        view["padding"] = cfg["padding"]
    inbound = [ref[0] for node in layer.get("inbound_nodes", []) for ref in node]
    return layer["class_name"], inbound, view


def compare(c, name, builtin, keras_config, last_layer):
    keras_layers = keras_config["config"]["layers"]
    # nsfwjs's head (after the keras.applications base) is its own; compare the base.
    keep = set()
    order = [l["name"] for l in keras_layers]
    ours = {l["name"]: l for l in builtin["config"]["layers"]}
    theirs = {l["name"]: l for l in keras_layers}
    # the base = everything the builtin has
    missing = [n for n in ours if n not in theirs]
    c.check(not missing, f"{name}: every built-in layer exists in Keras' config (missing: {missing[:5]})")
    extra = [n for n in order if n not in ours]
    head_ok = all(theirs[n]["class_name"] in ("Flatten", "Dense", "Dropout", "AveragePooling2D") for n in extra)
    c.check(head_ok, f"{name}: Keras' config has only nsfwjs's head beyond the base ({len(extra)} layers: {extra})")
    diffs = []
    for n, l in ours.items():
        if n in theirs:
            a, b = layer_view(l), layer_view(theirs[n])
            if a != b:
                diffs.append((n, a, b))
    c.check(not diffs, f"{name}: {len(ours)} layers agree in class, inputs and settings"
            + (f"; first difference {diffs[0]}" if diffs else ""))
    c.check(builtin["config"]["output_layers"][0][0] == last_layer, f"{name}: output layer is {last_layer}")


def main():
    c = Checks()
    cache = unwrapped_models()
    for name, folder, last in [("inception_v3", "nsfwjs_inception_v3", "mixed10"),
                               ("mobilenet_v2", "nsfwjs_mobilenet_v2", "out_relu")]:
        rc, out, err = tool("config", name)
        c.check(rc == 0, f"{name}: keras_tool config runs ({err.strip()})")
        if rc != 0:
            continue
        keras_config = load_json(os.path.join(cache, folder, "model.json"))["modelTopology"]["model_config"]
        compare(c, name, json.loads(out), keras_config, last)
    c.finish()


if __name__ == "__main__":
    main()
