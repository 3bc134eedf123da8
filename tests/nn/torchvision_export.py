#!/usr/bin/python3
"""Exports torchvision models with fixed random weights to ONNX, with PyTorch's own outputs as the reference.

The independent answer for tests/nn/torchvision_models.py and the models for bench/nn/: for every model, one
.onnx per opset (11 and 13, both common in the wild) with a dynamic batch dimension, plus fixed random inputs at
batch 1 and 8 and what PyTorch computes for them (the logits and the feature layer: the input of the final
classifier, i.e. the global pooling output).

No downloads: weights=None and torch.manual_seed. BatchNorm running statistics are random too (first calibrated
on random data so activations stay in range through 50+ layers, then perturbed), and BN's affine parameters are
random, so an engine that folds BN into the convolution is really exercised.

Usage: torchvision_export.py OUT_DIR [--models a,b] [--opsets 11,13] [--batches 1,8]
Writes OUT_DIR/<model>/{opset11.onnx, opset13.onnx, input_b1.npy, logits_b1.npy, features_b1.npy, ...,
meta.json} (and opsetN.onnx.data, the weights as ONNX external data, for the two models past 2 GiB). A model
folder whose meta.json matches this script's hash and arguments is reused (a cache).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

# glibc must not hand freed memory back to the kernel: every first touch of a page costs ~11 us here, and
# tracing VGG16 then takes 4x longer. The variables are read when the process starts, hence the re-exec.
if os.environ.get("MALLOC_MMAP_MAX_") is None:
    os.execve(sys.executable, [sys.executable] + sys.argv,
              dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="100000000000"))

import numpy as np
import torch
import torchvision
import onnx

SEED = 20261123
# PyTorch's own fp32 answer may differ from its fp64 one by at most this fraction of max |output|; beyond it the
# random network amplifies rounding so much that no fp32 engine could be checked to 1e-4, and its BatchNorms are
# randomised again the other way (randomise_batchnorm_sequentially).
FP32_NOISE_LIMIT = 2e-5
# Measured once (fp32 vs fp64 on their test inputs: 5e-7 to 8e-6) and not again on every export, which would cost
# a float64 forward pass of each at batch 8 in CI: the models the torchvision test has checked from the start.
WELL_CONDITIONED = {"inception_v3", "resnet50", "vgg16", "googlenet", "squeezenet1_1", "mobilenet_v2", "densenet121"}


def _zero(g, self):
    """aten::zero_ (Swin V2 zeroes the key part of its qkv bias in forward) as x * 0: PyTorch 1.13 has no
    ONNX symbolic for it. The bias is finite, so the product is exactly zero."""
    return g.op("Mul", self, g.op("Constant", value_t=torch.tensor(0.0)))


for _opset in range(9, 18):
    torch.onnx.register_custom_op_symbolic("aten::zero", _zero, _opset)

# name -> (constructor, input side). The keyword arguments are the ones the task fixes (no aux heads, raw input).
MODELS = {
    "inception_v3": (lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, transform_input=False,
                                                             init_weights=True), 299),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None), 224),
    "vgg16": (lambda: torchvision.models.vgg16(weights=None), 224),
    "googlenet": (lambda: torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False,
                                                       init_weights=True), 224),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(weights=None), 224),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 224),
    "densenet121": (lambda: torchvision.models.densenet121(weights=None), 224),
}
# Smaller members of the transformer families for CI: torchvision's own classes and blocks (shifted windows with
# their masks, Swin V2's cosine attention and log-spaced position bias, MaxViT's MBConv, block and grid attention),
# fewer and narrower layers. The full-size builders take 1-3 minutes each to export here; they run by hand
# (`--models all`, docs/torchvision-zoo.md).
MODELS["swin_ci"] = (lambda: torchvision.models.swin_transformer.SwinTransformer(
    patch_size=[4, 4], embed_dim=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8], window_size=[7, 7],
    stochastic_depth_prob=0.0), 224)
MODELS["swin_v2_ci"] = (lambda: torchvision.models.swin_transformer.SwinTransformer(
    patch_size=[4, 4], embed_dim=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8], window_size=[8, 8],
    stochastic_depth_prob=0.0, block=torchvision.models.swin_transformer.SwinTransformerBlockV2,
    downsample_layer=torchvision.models.swin_transformer.PatchMergingV2), 224)
MODELS["maxvit_ci"] = (lambda: torchvision.models.maxvit.MaxVit(
    input_size=(224, 224), stem_channels=32, partition_size=7, block_channels=[32, 64, 128, 256],
    block_layers=[1, 1, 1, 1], head_dim=16, stochastic_depth_prob=0.0), 224)
# Every other classification builder of torchvision (0.14: 80 in all) with its defaults, at 224x224.
for _name in sorted(torchvision.models.list_models(module=torchvision.models)):
    MODELS.setdefault(_name, (lambda n=_name: torchvision.models.get_model(n, weights=None), 224))


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def randomise_batchnorm(model, side, gen):
    """Running stats and affine parameters of every BN become random but well-scaled (fixed seed)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    # Calibrate: running stats = the statistics of random data (cumulative average), so that activations keep
    # a sane magnitude through the whole network ...
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, side, side, generator=gen))
    # ... then perturb them and the affine parameters, so nothing is an identity that folding could get away with.
    with torch.no_grad():
        for bn in bns:
            c = bn.num_features
            bn.running_mean += 0.1 * torch.randn(c, generator=gen) * bn.running_var.sqrt()
            bn.running_var *= 0.5 + torch.rand(c, generator=gen)
            bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
            bn.bias.copy_(0.1 * torch.randn(c, generator=gen))
            bn.momentum = 0.1
    model.eval()
    return len(bns)


def randomise_zero_parameters(model, gen):
    """Parameters a builder initialises to zero (ViT's classifier head and class token, Swin's relative position
    bias table, biases) become small random values, BatchNorms aside (randomise_batchnorm's): a zero head makes
    every logit 0 and checks nothing."""
    bn_params = {id(p) for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                 for p in m.parameters()}
    count = 0
    with torch.no_grad():
        for p in model.parameters():
            if id(p) not in bn_params and p.dtype.is_floating_point and not p.any():
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))
                count += 1
    return count


def randomise_batchnorm_sequentially(model, side, gen):
    """As randomise_batchnorm, but the statistics are taken in eval mode as the data reaches each BN, so they see
    the perturbations upstream. For networks where those compound: RegNetY-400MF's last blocks reached 4e4 and its
    squeeze-excitation sigmoids saw inputs in the thousands (PyTorch fp32 vs fp64: 5e-4 of max |output|)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    model.eval()

    def calibrate(bn, inputs):
        x = inputs[0]
        dims = [0] + list(range(2, x.dim()))
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        c = bn.num_features
        bn.running_mean.copy_(mean + 0.1 * torch.randn(c, generator=gen) * var.sqrt())
        bn.running_var.copy_(var * (0.5 + torch.rand(c, generator=gen)))
        bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
        bn.bias.copy_(0.1 * torch.randn(c, generator=gen))

    hooks = [bn.register_forward_pre_hook(calibrate) for bn in bns]
    with torch.no_grad():
        model(torch.randn(4, 3, side, side, generator=gen))
    for h in hooks:
        h.remove()
    return len(bns)


def fp32_noise(model, x):
    """max |PyTorch fp32 - PyTorch fp64| / max |fp64| on x: the rounding noise the random network amplifies."""
    import copy
    with torch.no_grad():
        y32 = model(x).double()
        y64 = copy.deepcopy(model).double()(x.double())
    return float((y32 - y64).abs().max() / y64.abs().max().clamp_min(1e-30))


def final_classifier(model):
    """The last Linear module (its input is the feature layer); None for SqueezeNet (a conv classifier)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return linears[-1] if linears else None


def onnx_feature_tensor(path):
    """Name of the tensor feeding the last Gemm/MatMul of the exported graph: the feature layer in ONNX terms."""
    g = onnx.load(path, load_external_data=False).graph
    weights = {i.name for i in g.initializer}
    for node in reversed(g.node):
        if node.op_type in ("Gemm", "MatMul"):
            return next(i for i in node.input if i not in weights)
    return None


def export_onnx(model, example, folder, fname, opset):
    """Exports to folder/fname; returns the files written. A model past protobuf's 2 GiB limit for one message
    (ViT-H/14, RegNetY-128GF) is saved by PyTorch with its weights as external data, one file per tensor beside
    the .onnx; each opset's export would then overwrite the other's files of the same names, so the weights are
    gathered into one fname.data per export (ONNX's external-data format, which xfer reads)."""
    staging = os.path.join(folder, f".export-{fname}")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    staged = os.path.join(staging, fname)
    torch.onnx.export(model, example, staged, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    written = [fname]
    if len(os.listdir(staging)) > 1:  # external data: one file per tensor
        data = fname + ".data"
        onnx.save_model(onnx.load(staged), staged + ".one", save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data, size_threshold=1024)
        os.replace(os.path.join(staging, data), os.path.join(folder, data))
        os.replace(staged + ".one", os.path.join(folder, fname))
        written.append(data)
    else:
        os.replace(staged, os.path.join(folder, fname))
    # By path, so that the checker reads external data too. meta.json, written last, marks the export complete.
    onnx.checker.check_model(os.path.join(folder, fname))
    shutil.rmtree(staging)
    return written


def export_model(name, out_dir, opsets, batches, argkey, check_all=False):
    folder = os.path.join(out_dir, name)
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("key") == argkey and all(os.path.exists(os.path.join(folder, v)) for v in meta["files"]):
            print(f"{name}: cached", file=sys.stderr)
            return meta
    os.makedirs(folder, exist_ok=True)
    start = time.time()
    # One seed per model, so the weights of a model do not depend on which other models were asked for.
    seed = SEED + sum(map(ord, name))
    ctor, side = MODELS[name]
    noise = None
    for randomise in (randomise_batchnorm, randomise_batchnorm_sequentially):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = ctor()
        n_zero = randomise_zero_parameters(model, gen)
        n_bn = randomise(model, side, gen)
        model.eval()
        inputs = {b: torch.randn(b, 3, side, side, generator=gen) for b in batches}
        if not n_bn or (name in WELL_CONDITIONED and not check_all):
            break
        # The noise is measured on the very inputs of the test: the amplification depends on the input (RegNetY:
        # 3e-6 on one pair of images, 5e-4 on one image of another eight).
        noise = max(fp32_noise(model, x) for x in inputs.values())
        if noise <= FP32_NOISE_LIMIT:
            break

    files = []
    meta = {"key": argkey, "model": name, "input_shape": [3, side, side], "batchnorms": n_bn, "zero_parameters": n_zero,
            "batchnorm_randomisation": randomise.__name__, "torch_fp32_vs_fp64": noise, "opsets": {},
            "batches": {}, "torch": torch.__version__, "torchvision": torchvision.__version__}

    classifier = final_classifier(model)
    captured = {}
    if classifier is not None:
        classifier.register_forward_hook(lambda mod, inp, out: captured.__setitem__("features", inp[0].detach()))

    for b, x in inputs.items():
        with torch.no_grad():
            logits = model(x)
        entry = {"input": f"input_b{b}.npy", "logits": f"logits_b{b}.npy"}
        np.save(os.path.join(folder, entry["input"]), x.numpy().astype(np.float32))
        np.save(os.path.join(folder, entry["logits"]), logits.numpy().astype(np.float32))
        if "features" in captured:
            entry["features"] = f"features_b{b}.npy"
            np.save(os.path.join(folder, entry["features"]), captured.pop("features").numpy().astype(np.float32))
        meta["batches"][str(b)] = entry
        files += list(entry.values())

    for opset in opsets:
        fname = f"opset{opset}.onnx"
        files += export_onnx(model, torch.randn(1, 3, side, side, generator=gen), folder, fname, opset)
        meta["opsets"][str(opset)] = {"file": fname, "feature_tensor": onnx_feature_tensor(os.path.join(folder, fname))}

    meta["files"] = files
    meta["export_seconds"] = round(time.time() - start, 1)
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_path + ".tmp", meta_path)
    print(f"{name}: exported in {meta['export_seconds']} s ({n_bn} BatchNorms randomised)", file=sys.stderr)
    return meta


def builders():
    """The classification builders of this torchvision, in order: what `--models all` means."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--opsets", default="11,13")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--noise-check-all", action="store_true",
                   help="measure PyTorch's fp32 vs fp64 noise for the WELL_CONDITIONED models too")
    args = p.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    opsets = [int(o) for o in args.opsets.split(",") if o]
    batches = [int(b) for b in args.batches.split(",") if b]
    models = builders() if args.models == "all" else [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; known: {list(MODELS)}")
    argkey = f"{script_hash()}:{opsets}:{batches}:{args.noise_check_all}"
    index = {m: export_model(m, args.out_dir, opsets, batches, argkey, args.noise_check_all) for m in models}
    with open(os.path.join(args.out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
