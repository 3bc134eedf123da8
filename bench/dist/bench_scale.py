#!/usr/bin/python3
"""What the MPI path costs on one machine, measured in one run (interleaved rounds, best of each):

  featurize   1 process x 2 threads  vs  mpirun -np 2 x 1 thread  (the part queue, messages, rank 0's commits)
              and 1 process x 1 thread (one core's rate, for per-core efficiency)
  train       the same cached features, 1 rank vs 2 ranks (row scatter + an allreduce per evaluation)
  allreduce   xfer's reduce+broadcast beside MPI_Allreduce, per call, for the gradient sizes xfer trains

Figures feed docs/scaling.md. Usage (after scripts/build.sh and node scripts/fetch-nsfwjs.mjs):

  /usr/bin/python3 bench/dist/bench_scale.py --images 512 --rounds 2
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FM = "/usr/share/datasets/fashion-mnist"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return r


def timed(cmd):
    start = time.perf_counter()
    r = run(cmd)
    return time.perf_counter() - start, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="nsfwjs_inception_v3")
    ap.add_argument("--layer", default="mixed5")
    args = ap.parse_args()
    xfer = os.path.join(args.build, "src", "cli", "xfer")
    tmp = tempfile.mkdtemp(prefix="xfer-bench-dist-")
    data = os.path.join(tmp, "data")
    run([xfer, "data", "import-idx", "--images", f"{FM}/train-images-idx3-ubyte.gz", "--labels",
         f"{FM}/train-labels-idx1-ubyte.gz", "--class-names", "a,b,c,d,e,f,g,h,i,j", "--limit", str(args.images),
         "--out", data])
    model = ["--model", args.model, "--layer", args.layer, "--part-size", "32", "--batch", "16"]

    cases = {
        "1 process x 2 threads": lambda out: [xfer, "-q", "featurize", "--data", data, *model, "--threads", "2", "--out", out],
        "mpirun -np 2 x 1 thread": lambda out: ["mpirun", "-np", "2", "--bind-to", "core", xfer, "-q", "featurize",
                                                "--data", data, *model, "--out", out],
        "1 process x 1 thread": lambda out: [xfer, "-q", "featurize", "--data", data, *model, "--threads", "1", "--out", out],
    }
    best = {name: float("inf") for name in cases}
    for round_ in range(args.rounds):
        for name, make in cases.items():
            out = os.path.join(tmp, f"f-{round_}-{len(name)}")
            seconds, _ = timed(make(out))
            best[name] = min(best[name], seconds)
            if name != "1 process x 2 threads" or round_ < args.rounds - 1:
                shutil.rmtree(out)
            else:
                features = out
    print(f"\n== featurize {args.images} images, {args.model} {args.layer} (best of {args.rounds}, whole command)")
    base = best["1 process x 2 threads"]
    for name, seconds in best.items():
        print(f"{name:<26} {seconds:7.2f} s  {args.images / seconds:7.1f} images/s  ratio to 1 process x 2 threads "
              f"{base / seconds:.3f}")

    # Training on the same features: reuse the folder (every part matches), time the fit as train reports it.
    train = ["train", "--data", data, *model, "--features", features, "--reg", str(1.0 / args.images),
             "--max-iter", "200"]
    fit = {1: float("inf"), 2: float("inf")}
    for round_ in range(args.rounds):
        for ranks in (1, 2):
            out = os.path.join(tmp, f"p{ranks}.json")
            cmd = [xfer, *train, "--out", out] if ranks == 1 else ["mpirun", "-np", "2", "--bind-to", "core", xfer,
                                                                  *train, "--out", out]
            r = run(cmd)
            m = re.search(r"training: (\d+) iterations .*?, ([0-9.]+) s", r.stdout)
            fit[ranks] = min(fit[ranks], float(m.group(2)))
            iterations = int(m.group(1))
    print(f"\n== train logistic regression on those features ({iterations} iterations, best of {args.rounds})")
    print(f"1 rank  x 2 threads {fit[1]:7.3f} s")
    print(f"2 ranks x 1 thread  {fit[2]:7.3f} s   ratio {fit[1] / fit[2]:.3f}")

    print("\n== allreduce per call (xfer: reduce + broadcast, bit-identical on every rank; peer: MPI_Allreduce)")
    r = run(["mpirun", "-np", "2", os.path.join(args.build, "bench", "dist", "allreduce_bench")])
    for line in r.stdout.splitlines():
        j = json.loads(line)
        print(f"{j['doubles']:>8} doubles  xfer {j['xfer_us']:9.1f} us  MPI_Allreduce {j['mpi_allreduce_us']:9.1f} us  "
              f"ratio {j['ratio']:.2f}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
