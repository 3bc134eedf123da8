#!/usr/bin/python3
"""The built-in inception_v3 and mobilenet_v2 architectures (C++ builders in src/nn/keras/keras_builtin.cpp)
against the model_config Keras 2.2.4 itself wrote for nsfwjs's models (keras.applications bases + nsfwjs's own
head): same layer names, classes, connections and layer settings. Also every built-in architecture, imported
with zero weights, has the parameter count and output shape that Keras' model.summary() reports for
keras.applications (figures published with Keras; the VGGs without top to keep memory small)."""
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
    keras_summary = {  # (name, include_top): (total params, output shape without batch)
        ("inception_v3", True): (23851784, [1000]), ("inception_v3", False): (21802784, [8, 8, 2048]),
        ("xception", True): (22910480, [1000]), ("xception", False): (20861480, [10, 10, 2048]),
        ("resnet50", True): (25636712, [1000]), ("resnet50", False): (23587712, [7, 7, 2048]),
        ("mobilenet_v2", True): (3538984, [1000]), ("mobilenet_v2", False): (2257984, [7, 7, 1280]),
        ("vgg16", False): (14714688, [7, 7, 512]), ("vgg19", False): (20024384, [7, 7, 512]),
    }
    for (name, top), (params, shape) in keras_summary.items():
        rc, out, err = tool("architecture", name, *(["top"] if top else []))
        if rc != 0:
            c.check(False, f"{name} top={top}: imports ({err.strip()[:200]})")
            continue
        g = json.loads(out)
        got = (int(g["metadata"]["keras_parameters"]), g["outputs"][0]["shape"][1:])
        c.check(got == (params, shape), f"{name} top={top}: {got[0]:,} parameters, output {got[1]} "
                f"(Keras: {params:,}, {shape})")
    c.finish()


if __name__ == "__main__":
    main()
