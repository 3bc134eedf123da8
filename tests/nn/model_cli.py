#!/usr/bin/python3
"""`xfer model info | run | bench` end to end on a small CNN exported from PyTorch (fixed random weights):
run's output and a cut layer equal PyTorch's, info's parameter count equals PyTorch's, bench reports its fields,
and a model with an unsupported op or a bad file fails with a message naming it. Env: XFER_BINARY."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, xfer_binary  # noqa: E402

XFER = xfer_binary()
checks = Checks()
check = checks.check


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU())
        self.a = torch.nn.Conv2d(16, 16, 1)
        self.b = torch.nn.Sequential(torch.nn.Conv2d(16, 8, 3, padding=1, groups=2), torch.nn.ReLU6())
        self.pool = torch.nn.AvgPool2d(3, stride=1, padding=1)
        self.fc = torch.nn.Linear(40, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.nn.functional.max_pool2d(x, 3, 2, ceil_mode=True)
        x = torch.cat([self.a(x), self.b(x), self.pool(x)], 1)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def xfer(*args):
    return subprocess.run([XFER, "model", *args], capture_output=True, text=True, timeout=300)


def main():
    torch.manual_seed(3)
    net = Net().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    tmp = tempfile.mkdtemp(prefix="xfer-model-cli-")
    onnx_path = os.path.join(tmp, "net.onnx")
    x = torch.randn(4, 3, 33, 31)
    torch.onnx.export(net, x, onnx_path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    with torch.no_grad():
        want = net(x).numpy()
        feats = torch.nn.functional.adaptive_avg_pool2d(
            torch.cat([net.a(y), net.b(y), net.pool(y)], 1), 1).flatten(1).numpy() if (
            y := torch.nn.functional.max_pool2d(net.stem(x), 3, 2, ceil_mode=True)) is not None else None

    out = os.path.join(tmp, "y.npy")
    p = xfer("run", onnx_path, "--input", os.path.join(tmp, "x.npy"), "--out", out)
    ok = p.returncode == 0
    diff = float(np.max(np.abs(np.load(out) - want))) if ok else float("nan")
    check("run logits == PyTorch", ok and diff <= 1e-4 * np.max(np.abs(want)), f"max|diff|={diff:.3g} {p.stderr.strip()[-200:] if not ok else ''}")

    info = xfer("info", onnx_path, "--json")
    ok = info.returncode == 0
    j = json.loads(info.stdout) if ok else {}
    # PyTorch's exporter folds BatchNorm into the convs, so count what the file holds, read by the onnx package.
    import onnx
    import onnx.numpy_helper
    n_params = sum(onnx.numpy_helper.to_array(t).size for t in onnx.load(onnx_path).graph.initializer
                   if t.data_type == onnx.TensorProto.FLOAT)
    check("info parameters == the onnx package's count", ok and j.get("parameters") == n_params, f"{j.get('parameters')} vs {n_params}")
    feature = j.get("default_feature_layer", "")
    check("info default feature layer is 40-d", ok and j.get("default_feature_shape") == [1, 40], f"{feature} {j.get('default_feature_shape')}")
    if feature:
        p = xfer("run", onnx_path, "--input", os.path.join(tmp, "x.npy"), "--out", out, "--layer", feature)
        ok = p.returncode == 0
        diff = float(np.max(np.abs(np.load(out) - feats))) if ok else float("nan")
        check("run --layer features == PyTorch", ok and diff <= 1e-4 * np.max(np.abs(feats)), f"max|diff|={diff:.3g}")

    for precision in ("fp32", "bf16"):
        b = xfer("bench", onnx_path, "--batch", "2", "--threads", "1", "--seconds", "0.2", "--json", "--precision", precision)
        ok = b.returncode == 0
        r = json.loads(b.stdout) if ok else {}
        # bf16 runs as bf16 only where the CPU has native bf16 (avx512_core_bf16, AMX); elsewhere xfer says so and
        # runs it in fp32, which is faster there.
        native = r.get("isa") in ("avx512_core_bf16", "avx512_core_amx")
        ran = precision if precision == "fp32" or native else "fp32"
        check(f"bench {precision} reports throughput, latency, memory, ISA, and runs in {ran} on {r.get('isa')}",
              ok and r.get("images_per_s", 0) > 0 and r.get("ms_per_batch", 0) > 0 and r.get("peak_rss_mb", 0) > 0
              and r.get("precision") == ran and r.get("requested_precision") == precision and r.get("isa")
              and (ran == precision or "running in fp32" in b.stderr), b.stdout.strip()[:200] + b.stderr.strip()[-200:])
        # The net's grouped conv (8 input and 4 output channels per group) used to run on oneDNN's ref:any.
        check(f"bench {precision} lists no primitive on oneDNN's slow ref: kernels, and warns of none",
              ok and r.get("ref_primitives") == [] and "slow reference" not in b.stderr,
              f"ref_primitives={r.get('ref_primitives')}")

    # --profile: every measured run's steps timed, by step kind and by graph op. No timing thresholds: the keys,
    # non-negative times, and steps that fit in the wall time that contains them.
    b = xfer("bench", onnx_path, "--batch", "2", "--threads", "1", "--seconds", "0.2", "--json", "--profile")
    r = json.loads(b.stdout) if b.returncode == 0 else {}
    prof = r.get("profile", {})
    tables = [prof.get("by_kind", {}), prof.get("by_op", {})]
    times = [v["ms_per_run"] for t in tables for v in t.values()]
    check("bench --profile reports time per step kind and per op",
          b.returncode == 0 and prof.get("runs") == r.get("iterations") and "convolution" in tables[0]
          and "Conv" in tables[1] and all(t >= 0 for t in times) and all(v["steps_per_run"] > 0 for t in tables for v in t.values()),
          json.dumps(prof)[:300] + b.stderr.strip()[-200:])
    steps, wall = prof.get("steps_ms", -1), prof.get("wall_ms", -1)
    kinds_ms = sum(v["ms_per_run"] for v in tables[0].values()) * prof.get("runs", 0)
    check("bench --profile: the steps' times sum to the total, within the measured wall time",
          0 < steps <= wall and abs(kinds_ms - steps) <= 1e-6 * max(steps, 1) + 1e-3, f"steps {steps} ms, wall {wall} ms, kinds {kinds_ms}")
    b = xfer("bench", onnx_path, "--batch", "2", "--threads", "1", "--seconds", "0.2", "--profile")
    check("bench --profile prints its table", b.returncode == 0 and "step kind" in b.stdout and "convolution" in b.stdout,
          b.stdout[-300:])

    # A file with two operators this build lacks: info names both (and their nodes) at once, and fails.
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("Det", ["x"], ["d"], name="det_node"),
                           helper.make_node("Relu", ["d"], ["r"]),
                           helper.make_node("Hardmax", ["r"], ["y"], name="hardmax_node")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    lacking = os.path.join(tmp, "lacking.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), lacking)
    p = xfer("info", lacking)
    check("info lists every unsupported operator at once, then fails",
          p.returncode == 1 and "Det" in p.stdout and "det_node" in p.stdout and "Hardmax" in p.stdout
          and "hardmax_node" in p.stdout and "Det, Hardmax" in p.stderr, p.stdout[-300:] + p.stderr[-300:])
    p = xfer("info", lacking, "--json")
    listed = [u["op"] for u in json.loads(p.stdout)["unsupported_ops"]] if p.stdout.strip().startswith("{") else []
    check("info --json lists them too", p.returncode == 1 and listed == ["Det", "Hardmax"], str(listed))

    bad = os.path.join(tmp, "bad.onnx")
    with open(onnx_path, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 3])
    p = xfer("run", bad, "--input", os.path.join(tmp, "x.npy"), "--out", out)
    check("truncated file: exit 1 naming the file", p.returncode == 1 and "bad.onnx" in p.stderr, p.stderr.strip()[-200:])
    check("no partial output for a failed run", not os.path.exists(os.path.join(tmp, "never.npy")))

    # A folder names a TF.js model (model.json and its shards); one without model.json is refused, saying so.
    folder = os.path.join(tmp, "not-a-tfjs-folder")
    os.mkdir(folder)
    p = xfer("info", folder)
    check("a folder without model.json: exit 1 naming the folder and what it lacks",
          p.returncode == 1 and "not-a-tfjs-folder" in p.stderr and "model.json" in p.stderr, p.stderr.strip()[-200:])
    os.rmdir(folder)

    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    checks.finish()


if __name__ == "__main__":
    main()
