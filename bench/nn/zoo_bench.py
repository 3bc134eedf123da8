#!/usr/bin/python3
"""Speed across torchvision's zoo: one model per family, xfer beside ONNX Runtime in the same run, as a ratio.

Models: the smallest member of every torchvision CNN family, and (for information) of every transformer family,
exported with random weights at opset 13 by tests/nn/torchvision_export.py (the files tests/nn/torchvision_zoo.py
checks against PyTorch). Each case (model x batch) runs in its own process, 2 threads, fp32:
  xfer   `xfer model bench FILE --batch N --threads 2 --precision fp32 --json` (also lists every primitive oneDNN
         dispatched to a ref: implementation: ref_primitives)
  ORT    bench/nn/ort_peer.mjs (onnxruntime-node, intraOpNumThreads 2, graphOptimizationLevel all)
With --rounds N the peers run interleaved N times and each keeps its best run (this host's speed drifts).
Writes the table as markdown (--doc, default BUILD/zoo-speed.md, rewritten after every model so that an interrupted
run leaves a true partial table) and prints it. docs/torchvision-zoo-speed.md gathers such tables by hand with the
notes around them, so the script does not write there unless told to.

Usage: zoo_bench.py [--models a,b] [--batches 1,8] [--rounds N] [--seconds S] [--build DIR] [--xfer BIN]
                    [--doc PATH] [--json OUT]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from run_bench import run_json  # noqa: E402  (the same runner as run_bench.py)

CNN_FAMILIES = ["alexnet", "vgg11", "resnet18", "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_1", "googlenet",
                "inception_v3", "densenet121", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5",
                "shufflenet_v2_x0_5", "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf",
                "convnext_tiny"]
TRANSFORMERS = ["vit_b_32", "swin_t", "swin_v2_t", "maxvit_t"]
GOAL = 0.9


def gflop_of(xfer, onnx_path):
    """GFLOP per image as `xfer model info` counts them (2 x MACs of convolutions and matrix products): ONNX's own
    shape inference, which run_bench.py counts with, loses the shapes after ShuffleNet's computed Slices."""
    out = subprocess.run([xfer, "model", "info", onnx_path, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["flops_per_image"] / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(CNN_FAMILIES + TRANSFORMERS))
    p.add_argument("--batches", default="1,8")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seconds", default="2", help="measured seconds per case and peer")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--xfer", help="xfer binary (default BUILD/src/cli/xfer)")
    p.add_argument("--doc", help="markdown table out (default BUILD/zoo-speed.md)")
    p.add_argument("--json")
    args = p.parse_args()
    xfer = args.xfer or os.path.join(args.build, "src", "cli", "xfer")
    args.doc = args.doc or os.path.join(args.build, "zoo-speed.md")
    cache = os.path.join(args.build, "torchvision-zoo")
    models = [m for m in args.models.split(",") if m]
    batches = [int(b) for b in args.batches.split(",")]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    started = datetime.datetime.utcnow()

    rows = []
    for model in models:
        # The zoo's own export (opsets 13 and 17, batches 1 and 8): a cache hit when torchvision_zoo.py ran.
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "nn", "torchvision_export.py"), cache,
                        "--models", model, "--opsets", "13,17", "--batches", "1,8"], check=True)
        with open(os.path.join(cache, model, "meta.json")) as f:
            onnx_path = os.path.join(cache, model, json.load(f)["opsets"]["13"]["file"])
        gflop = gflop_of(xfer, onnx_path)
        for batch in batches:
            print(f"{model} batch {batch} ({gflop:.2f} GFLOP/image):", file=sys.stderr, flush=True)
            peers = {
                "xfer": [xfer, "model", "bench", onnx_path, "--batch", str(batch), "--threads", "2", "--precision",
                         "fp32", "--seconds", args.seconds, "--json"],
                "ORT": ["node", os.path.join(HERE, "ort_peer.mjs"), "bench", onnx_path, "--batch", str(batch),
                        "--threads", "2", "--min-seconds", args.seconds],
            }
            row = {"model": model, "batch": batch, "gflop_per_image": gflop,
                   "transformer": model in TRANSFORMERS}
            for _ in range(args.rounds):
                for name, cmd in peers.items():
                    got = run_json(cmd, None, name)
                    if got and (not row.get(name) or got["images_per_s"] > row[name]["images_per_s"]):
                        row[name] = got
            rows.append(row)
            write_doc(args.doc, rows, load, started, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    with open(args.doc) as f:
        print(f.read())


def ref_summary(refs):
    """`node 'n' (Sigmoid): ref:any` entries counted by op and implementation: "12 x Sigmoid ref:any"."""
    counts = {}
    for entry in refs:
        op_impl = entry.split("(", 1)[-1].replace("):", "") if "(" in entry else entry
        counts[op_impl] = counts.get(op_impl, 0) + 1
    return ", ".join(f"{n} x {k}" for k, n in sorted(counts.items())) or "none"


def write_doc(path, rows, load, started, args):
    def cell(r, k):
        return f"{r[k]['images_per_s']:.2f}" if r.get(k) else "failed"

    lines = ["# torchvision zoo: xfer beside ONNX Runtime", "",
             "One model per torchvision family, random weights, opset 13 (tests/nn/torchvision_export.py), fp32, "
             "2 threads, each case in its own process; images/s and the ratio xfer / ONNX Runtime, measured in the "
             f"same run. Goal for the CNN families: every ratio >= {GOAL} and no oneDNN `ref:` primitive. The "
             "transformer families are listed for information.", "",
             "```", "bench/nn/zoo_bench.py " + " ".join(sys.argv[1:]), "```", "",
             f"Run {started:%Y-%m-%d %H:%M} UTC; load average at the start {load} (2 cores shared with other work: "
             "the figures drift by 10-20%).", "",
             "| model | batch | GFLOP/img (xfer model info) | xfer img/s | ORT img/s | xfer/ORT | xfer peak MB | ORT peak MB | ref: primitives |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        x, o = r.get("xfer"), r.get("ORT")
        ratio = f"{x['images_per_s'] / o['images_per_s']:.2f}" if x and o else "-"
        if x and o and not r["transformer"] and x["images_per_s"] / o["images_per_s"] < GOAL:
            ratio = f"**{ratio}**"
        ref_text = ref_summary(x.get("ref_primitives", []) if x else [])
        name = r["model"] + (" (transformer)" if r["transformer"] else "")
        lines.append(f"| {name} | {r['batch']} | {r['gflop_per_image']:.2f} | {cell(r, 'xfer')} | {cell(r, 'ORT')} | "
                     f"{ratio} | {x['peak_rss_mb']:.0f} | {o['peak_rss_mb']:.0f} | {ref_text} |" if x and o else
                     f"| {name} | {r['batch']} | {r['gflop_per_image']:.2f} | {cell(r, 'xfer')} | {cell(r, 'ORT')} | "
                     f"- | - | - | {ref_text} |")
    lines.append("")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
