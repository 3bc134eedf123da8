#!/usr/bin/python3
"""The PyTorch 1.13 peer of bench/nn/run_bench.py, at its best on this machine, and the benchmark's model export.

  torch_peer.py export OUT_DIR [--models a,b]
                                       writes OUT_DIR/<model>.{onnx,pt} (default: every model below): the models
                                       of tests/nn/torchvision_export.py (same seed, random BatchNorm statistics,
                                       zero-initialised parameters made small random values); InceptionV3 is cut
                                       at its 2048-d pooled features (fc = Identity). CNNs at opset 13; the
                                       transformers (ViT-B/16, ConvNeXt-Tiny, Swin-T) at opset 17, whose
                                       LayerNormalization is one op, as current exporters write it.
  torch_peer.py bench OUT_DIR MODEL --batch N [--threads T] [--precision fp32|bf16] [--min-seconds S]
                                       prints {"images_per_s", "ms_per_batch", "peak_rss_mb", "iterations", "mode"}

"At its best": torch.set_num_threads(T) (PyTorch uses 1 here by default), channels_last, a traced and frozen
TorchScript module (torch.jit.freeze), torch.inference_mode; bf16 as a bfloat16 model and input (oneDNN's
AVX512_BF16 kernels). Run it with glibc told to keep freed memory (MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=100000000000) or with jemalloc preloaded: without that PyTorch slows 2-7x at batch 32 here.
"""
import argparse
import importlib.util
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_MODELS = {"inception_v3_features": ("inception_v3", 299), "resnet50": ("resnet50", 224),
                "vit_b_16": ("vit_b_16", 224), "convnext_tiny": ("convnext_tiny", 224), "swin_t": ("swin_t", 224)}
TRANSFORMERS = {"vit_b_16", "convnext_tiny", "swin_t"}


def opset_of(name):
    return 17 if name in TRANSFORMERS else 13


def export_module():
    spec = importlib.util.spec_from_file_location(
        "torchvision_export", os.path.join(HERE, "..", "..", "tests", "nn", "torchvision_export.py"))
    module = importlib.util.module_from_spec(spec)
    os.environ.setdefault("MALLOC_MMAP_MAX_", "0")  # keeps the module from re-executing this process
    spec.loader.exec_module(module)
    return module


def build(name):
    tv = export_module()
    base, side = BENCH_MODELS[name]
    seed = tv.SEED + sum(map(ord, base))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = tv.MODELS[base][0]()
    if name in TRANSFORMERS:  # zero-initialised heads and biases: as the zoo export randomises them
        tv.randomise_zero_parameters(model, gen)
    tv.randomise_batchnorm(model, side, gen)
    if name.endswith("_features"):
        model.fc = torch.nn.Identity()  # the graph ends at the pooled, flattened features
    return model.eval(), side


def export(out_dir, names):
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        onnx_path = os.path.join(out_dir, name + ".onnx")
        pt_path = os.path.join(out_dir, name + ".pt")
        if os.path.exists(onnx_path) and os.path.exists(pt_path):
            continue
        model, side = build(name)
        torch.save(model.state_dict(), pt_path + ".tmp")
        torch.onnx.export(model, torch.randn(1, 3, side, side), onnx_path + ".tmp", opset_version=opset_of(name),
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        os.replace(pt_path + ".tmp", pt_path)
        os.replace(onnx_path + ".tmp", onnx_path)
        print(f"torch_peer: exported {onnx_path}", file=sys.stderr)


def quantize_fx_int8(model, side):
    """PyTorch's post-training static quantisation as its docs give it: FX graph mode, the x86 engine's default
    qconfig (per-channel weights, histogram observers), calibrated on 4 random batches of 2 images. The engine is
    fbgemm where this PyTorch has it; Debian's 1.13 has only onednn (and qnnpack, for ARM)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    engine = "fbgemm" if "fbgemm" in torch.backends.quantized.supported_engines else "onednn"
    torch.backends.quantized.engine = engine
    prepared = prepare_fx(model, get_default_qconfig_mapping(engine), (torch.randn(1, 3, side, side),))
    with torch.no_grad():
        for _ in range(4):
            prepared(torch.randn(2, 3, side, side))
    return convert_fx(prepared)


def bench(out_dir, name, batch, threads, precision, min_seconds, min_iters, warmup):
    torch.set_num_threads(threads)
    model, side = build(name)
    model.load_state_dict(torch.load(os.path.join(out_dir, name + ".pt")))
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    if precision == "int8":
        model = quantize_fx_int8(model, side)
    model = model.to(dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(batch, 3, side, side).to(dtype=dtype, memory_format=torch.channels_last)
    with torch.inference_mode():
        frozen = torch.jit.freeze(torch.jit.trace(model, x))
        for _ in range(warmup):  # the first runs of a frozen module also optimise it (profiling executor)
            frozen(x)
        iters = 0
        start = time.perf_counter()
        seconds = 0.0
        while iters < min_iters or seconds < min_seconds:
            frozen(x)
            iters += 1
            seconds = time.perf_counter() - start
    print(json.dumps({
        "images_per_s": batch * iters / seconds, "ms_per_batch": 1000 * seconds / iters,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "iterations": iters,
        "mode": f"torch {torch.__version__} {precision} channels_last jit.trace+freeze threads={threads}"
                + (f" FX int8 engine={torch.backends.quantized.engine}" if precision == "int8" else ""),
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["export", "bench"])
    p.add_argument("out_dir")
    p.add_argument("model", nargs="?", choices=list(BENCH_MODELS))
    p.add_argument("--models", help="export: these models only (comma-separated)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32")
    p.add_argument("--min-seconds", type=float, default=5.0)
    p.add_argument("--min-iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    if args.mode == "export":
        names = args.models.split(",") if args.models else list(BENCH_MODELS)
        unknown = [n for n in names if n not in BENCH_MODELS]
        if unknown:
            p.error(f"unknown model(s) {unknown}; known: {list(BENCH_MODELS)}")
        export(args.out_dir, names)
    else:
        if not args.model:
            p.error("bench needs MODEL")
        bench(args.out_dir, args.model, args.batch, args.threads, args.precision, args.min_seconds,
              args.min_iters, args.warmup)


if __name__ == "__main__":
    main()
