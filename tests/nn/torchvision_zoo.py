#!/usr/bin/python3
"""Every classification builder of torchvision (0.14: 80) through xfer, run by hand; the table in docs/.

Each model is exported by tests/nn/torchvision_export.py (random weights and BatchNorm statistics, no download,
224x224 except InceptionV3's 299) at opsets 13 and 17 with PyTorch's own logits at batch 1 and 8 as the
independent answer; `xfer model run --threads 2` must agree within 1e-4 x max |PyTorch output|. CI checks one
model per family (tests/nn/torchvision_models.py); this is the whole list, too slow for CI.

Models run in order of cost, the smallest member of every family first, so that a time budget (--budget-minutes)
still covers every family; whatever the budget leaves out, or what cannot be run at all here, is listed in the
table with the reason. The table is rewritten after every model, so an interrupted run leaves a true partial one.

Usage: torchvision_zoo.py [--models a,b] [--opsets 13,17] [--batches 1,8] [--budget-minutes M]
                          [--doc docs/torchvision-zoo.md] [--cache DIR]   (env: XFER_BINARY, XFER_BUILD_DIR)
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from torchvision_models import compare, run_xfer  # noqa: E402  (one comparison rule for the CI test and this)

REL_TOL = 1e-4
# Approximate GFLOPs per image at 224x224 (torchvision's documentation, scaled to 224 where its figure is at
# another size): only the order the models run in, cheapest first.
GFLOPS = {
    "alexnet": 0.7, "convnext_tiny": 4.5, "convnext_small": 8.7, "convnext_base": 15.4, "convnext_large": 34.4,
    "densenet121": 2.8, "densenet169": 3.4, "densenet201": 4.3, "densenet161": 7.7,
    "efficientnet_b0": 0.4, "efficientnet_b1": 0.6, "efficientnet_b2": 0.7, "efficientnet_b3": 1.0,
    "efficientnet_b4": 1.5, "efficientnet_b5": 2.5, "efficientnet_b6": 3.4, "efficientnet_b7": 5.3,
    "efficientnet_v2_s": 2.8, "efficientnet_v2_m": 5.4, "efficientnet_v2_l": 12.2,
    "googlenet": 1.5, "inception_v3": 5.7, "maxvit_t": 5.6,
    "mnasnet0_5": 0.1, "mnasnet0_75": 0.2, "mnasnet1_0": 0.3, "mnasnet1_3": 0.5,
    "mobilenet_v2": 0.3, "mobilenet_v3_large": 0.2, "mobilenet_v3_small": 0.06,
    "regnet_x_400mf": 0.4, "regnet_x_800mf": 0.8, "regnet_x_1_6gf": 1.6, "regnet_x_3_2gf": 3.2,
    "regnet_x_8gf": 8.0, "regnet_x_16gf": 15.9, "regnet_x_32gf": 31.7,
    "regnet_y_400mf": 0.4, "regnet_y_800mf": 0.8, "regnet_y_1_6gf": 1.6, "regnet_y_3_2gf": 3.2,
    "regnet_y_8gf": 8.5, "regnet_y_16gf": 16.0, "regnet_y_32gf": 32.3, "regnet_y_128gf": 127.5,
    "resnet18": 1.8, "resnet34": 3.7, "resnet50": 4.1, "resnet101": 7.8, "resnet152": 11.5,
    "resnext50_32x4d": 4.2, "resnext101_64x4d": 15.5, "resnext101_32x8d": 16.4,
    "wide_resnet50_2": 11.4, "wide_resnet101_2": 22.8,
    "shufflenet_v2_x0_5": 0.04, "shufflenet_v2_x1_0": 0.14, "shufflenet_v2_x1_5": 0.3, "shufflenet_v2_x2_0": 0.6,
    "squeezenet1_0": 0.8, "squeezenet1_1": 0.35,
    "swin_t": 4.5, "swin_s": 8.7, "swin_b": 15.4, "swin_v2_t": 4.6, "swin_v2_s": 8.9, "swin_v2_b": 15.5,
    "vgg11": 7.6, "vgg11_bn": 7.6, "vgg13": 11.3, "vgg13_bn": 11.3, "vgg16": 15.5, "vgg16_bn": 15.5,
    "vgg19": 19.6, "vgg19_bn": 19.6,
    "vit_b_32": 4.4, "vit_b_16": 17.6, "vit_l_32": 15.4, "vit_l_16": 61.6, "vit_h_14": 167.3,
}
def family(name):
    for prefix in ("efficientnet_v2", "swin_v2", "regnet_x", "regnet_y", "wide_resnet", "resnext", "mobilenet_v3"):
        if name.startswith(prefix):
            return prefix
    return name.rstrip("0123456789_").split("_")[0].rstrip("0123456789")


def run_order(models):
    """The cheapest member of every family first, then the rest, cheapest first."""
    by_cost = sorted(models, key=lambda m: (GFLOPS.get(m, 1e3), m))
    firsts, seen = [], set()
    for m in by_cost:
        if family(m) not in seen:
            seen.add(family(m))
            firsts.append(m)
    return firsts + [m for m in by_cost if m not in firsts]


def write_doc(path, rows, skipped, args, started, load):
    ran = sorted({r["model"] for r in rows})
    passed = sum(r["ok"] for r in rows)
    failed_models = sorted({r["model"] for r in rows if not r["ok"]})
    lines = [
        "# torchvision's classification zoo through xfer",
        "",
        "Every classification builder of torchvision " + args.torchvision + " (`torchvision.models.list_models`), "
        "random weights and BatchNorm statistics (tests/nn/torchvision_export.py), exported at opsets "
        f"{args.opsets} with a dynamic batch, run by `xfer model run --threads 2` at batch {args.batches} and "
        f"compared with PyTorch {args.torch}'s logits on the same inputs: pass when max |xfer - torch| <= "
        f"{REL_TOL:g} x max |torch|. Inputs 224x224 (InceptionV3: 299x299; Swin V2 and MaxViT also at 224).",
        "",
        "Made by hand (too slow for CI, which checks one model per family in tests/nn/torchvision_models.py):",
        "",
        "```",
        "tests/nn/torchvision_zoo.py " + " ".join(sys.argv[1:]),
        "```",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.machine()} with 2 threads; load average at the start "
        f"{load} (the machine's 2 cores are shared with other work, so the times are indicative only). The time "
        "column is the wall time of one `xfer model run` process: loading the file, building the plan, one pass.",
        "",
        f"**{len(ran)} models run, {passed} of {len(rows)} cases pass**" +
        (f"; failing: {', '.join(failed_models)}." if failed_models else "; none fails."),
        "",
        "| model | opset | batch | max rel err | result | xfer s |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        err = f"{r['rel']:.2e}" if r["rel"] is not None else "-"
        lines.append(f"| {r['model']} | {r['opset']} | {r['batch']} | {err} | {'pass' if r['ok'] else 'FAIL: ' + r['why']}"
                     f" | {r['secs']:.1f} |")
    if skipped:
        lines += ["", "## Not run", "", "| model | why |", "| --- | --- |"]
        lines += [f"| {m} | {why} |" for m, why in skipped.items()]
    lines.append("")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="all")
    p.add_argument("--opsets", default="13,17")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--budget-minutes", type=float, default=0, help="start no new model after this (0: no limit)")
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "torchvision-zoo.md"))
    p.add_argument("--cache", default=None, help="export cache (default BUILD/torchvision-zoo)")
    args = p.parse_args()
    import torch
    import torchvision
    args.torch, args.torchvision = torch.__version__, torchvision.__version__
    xfer = os.environ.get("XFER_BINARY", os.path.join(ROOT, "build", "src", "cli", "xfer"))
    build = os.environ.get("XFER_BUILD_DIR", os.path.join(ROOT, "build"))
    cache = args.cache or os.path.join(build, "torchvision-zoo")
    everything = sorted(torchvision.models.list_models(module=torchvision.models))
    models = everything if args.models == "all" else [m for m in args.models.split(",") if m]
    opsets = [int(o) for o in args.opsets.split(",")]
    batches = [int(b) for b in args.batches.split(",")]

    started = datetime.datetime.utcnow()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    start = time.time()
    rows, skipped = [], {}
    for model in run_order(models):
        if args.budget_minutes and time.time() - start > 60 * args.budget_minutes:
            skipped[model] = f"not reached within this run's budget of {args.budget_minutes:g} minutes"
            continue
        t0 = time.time()
        proc = subprocess.run([sys.executable, os.path.join(HERE, "torchvision_export.py"), cache, "--models", model,
                               "--opsets", args.opsets, "--batches", args.batches], capture_output=True, text=True)
        if proc.returncode != 0:
            skipped[model] = "export failed: " + ((proc.stderr.strip().splitlines() or ["?"])[-1])[:200]
            print(f"{model}: {skipped[model]}", flush=True)
            write_doc(args.doc, rows, skipped, args, started, load)
            continue
        print(f"{model}: export/cache {time.time() - t0:.0f} s", flush=True)
        with open(os.path.join(cache, model, "meta.json")) as f:
            meta = json.load(f)
        for opset in opsets:
            for batch in batches:
                entry = meta["batches"][str(batch)]
                out = os.path.join(cache, model, f"xfer_op{opset}_b{batch}.npy")
                proc, secs = run_xfer(xfer, [os.path.join(cache, model, meta["opsets"][str(opset)]["file"]),
                                             "--input", os.path.join(cache, model, entry["input"]), "--out", out,
                                             "--threads", "2"])
                import numpy as np
                want = np.load(os.path.join(cache, model, entry["logits"]))
                scale = float(np.max(np.abs(want)))
                row = {"model": model, "opset": opset, "batch": batch, "rel": None, "ok": False, "why": "",
                       "secs": secs}
                if proc.returncode != 0:
                    row["why"] = f"exit {proc.returncode}: " + ((proc.stderr.strip().splitlines() or ["?"])[-1])[:150]
                else:
                    diff, problem = compare(out, want)
                    if problem:
                        row["why"] = problem
                    else:
                        row["rel"] = diff / scale
                        row["ok"] = diff <= REL_TOL * scale
                        row["why"] = "" if row["ok"] else f"above {REL_TOL:g}"
                    os.remove(out)
                rows.append(row)
                print(f"  opset {opset} batch {batch}: {'pass' if row['ok'] else 'FAIL ' + row['why']} "
                      f"rel {row['rel']} {secs:.1f} s", flush=True)
        write_doc(args.doc, rows, skipped, args, started, load)
    write_doc(args.doc, rows, skipped, args, started, load)
    print(f"{sum(r['ok'] for r in rows)} passed, {sum(not r['ok'] for r in rows)} failed")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
