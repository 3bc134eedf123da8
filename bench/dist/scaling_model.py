#!/usr/bin/python3
"""The scaling model of docs/scaling.md, as arithmetic anyone can rerun with their own cluster's figures.

Inputs (defaults: measured on the 2-core development machine, see docs/scaling.md, or stated assumptions):
  --cnn-ms        CNN time per image per core (InceptionV3 to the 2048-d pool, fp32 b32: 2 cores / 38.3 img/s)
  --decode-ms     JPEG decode + resize per image per core (1500x1200 JPEG -> 299x299, DCT-scaled)
  --cores         cores per host
  --image-kb      encoded image size (chest X-ray set: 1.15 GB / 5,856 images)
  --storage-gbs   shared storage's aggregate read bandwidth (one NFS server on 10 GbE)
  --nic-gbs       each host's network bandwidth (10 GbE)
  --mem-gbs-core  memory bandwidth one core's logistic-regression pass reaches (measured, ml bench)
  --mem-gbs-host  a host's memory bandwidth ceiling (assumed)
  --start-s       launch (mpirun over ssh) + model load per job
  --latency-us    one network hop (allreduce: reduce + broadcast = 2 log2(H) hops)
  --iterations    L-BFGS iterations (1.1 objective evaluations each)
"""
import argparse
import math


def model(a, n, hosts):
    dim, classes = 2048, 2
    per_core = 1.0 / ((a.cnn_ms + a.decode_ms) / 1000.0)  # images/s
    host_rate = per_core * a.cores * a.efficiency
    compute = n / (hosts * host_rate)
    storage = n * a.image_kb * 1e3 / (a.storage_gbs * 1e9)
    part_tail = min(a.part_size, n / hosts) / host_rate  # the last parts finish within one part of each other
    featurize = a.start_s + max(compute, storage) + part_tail
    one_process = per_core * a.cores  # one host without MPI: no part queue, no messages
    featurize_1 = a.start_s + max(n / one_process, storage) + min(a.part_size, n) / one_process

    feature_bytes = n * dim * 4
    # Each rank trains on the rows it computed: no feature crosses the network again (a rerun that reuses parts
    # reads them back: not modelled here).
    scatter = 0.0
    share = feature_bytes / hosts
    pass_s = share / min(a.mem_gbs_core * a.cores * 1e9, a.mem_gbs_host * 1e9)
    evaluation = 2 * pass_s  # X W and G^T X: two passes over the rows
    hops = 0 if hosts == 1 else 2 * math.ceil(math.log2(hosts))
    allreduce = hops * a.latency_us * 1e-6 + (dim + 1) * classes * 8 / (a.nic_gbs * 1e9) * (2 if hosts > 1 else 0)
    train = a.iterations * 1.1 * (evaluation + allreduce) + scatter
    train_1 = a.iterations * 1.1 * 2 * feature_bytes / min(a.mem_gbs_core * a.cores * 1e9, a.mem_gbs_host * 1e9)
    return featurize, featurize_1, train, train_1, storage > compute


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cnn-ms", type=float, default=2000 / 38.3)
    ap.add_argument("--decode-ms", type=float, default=2000 / 65.0)
    ap.add_argument("--efficiency", type=float, default=0.97, help="per-host MPI path efficiency (bench_scale.py)")
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("--image-kb", type=float, default=200)
    ap.add_argument("--storage-gbs", type=float, default=1.1)
    ap.add_argument("--nic-gbs", type=float, default=1.1)
    ap.add_argument("--mem-gbs-core", type=float, default=5.9)
    ap.add_argument("--mem-gbs-host", type=float, default=60)
    ap.add_argument("--start-s", type=float, default=6)
    ap.add_argument("--latency-us", type=float, default=30)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--part-size", type=int, default=256)
    a = ap.parse_args()
    print("| images | hosts | featurise | efficiency | storage-bound | train | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for n in (5856, 1_000_000):
        for hosts in (1, 4, 16, 64):
            f, f1, t, t1, bound = model(a, n, hosts)
            print(f"| {n:,} | {hosts} | {f:,.0f} s | {f1 / (hosts * f):.0%} | {'yes' if bound else 'no'} | "
                  f"{t:,.1f} s | {t1 / (hosts * t):.0%} |")


if __name__ == "__main__":
    main()
