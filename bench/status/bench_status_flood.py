"""What watching a job costs it: the same featurisation (a small ONNX CNN on Fashion-MNIST images) run
  - without a status server (the reference),
  - with the server and a browser-like load: 10 clients polling /api/status once a second,
  - with the server under a local flood: clients requesting /, /api/status, /status.js and unknown paths back to
    back, as fast as they are answered (the wall time then also pays for the clients' own CPU, which competes
    with the job as any busy local process would),
rounds interleaved, best of each kept (this machine drifts 10-20%). The time is the job's own (`seconds` in its
--json summary: listing + featurisation + writing); the ratio is against the run without a server. Goal: < 2%.
Wall time on a shared machine is noisy, so the server's own cost is also measured directly: the CPU time of its
threads (named xfer-status) as a share of the whole process's CPU time, read from /proc while the job runs.
Usage: /usr/bin/python3 bench/status/bench_status_flood.py --xfer build/src/cli/xfer [--images 2000] [--rounds 5]
       [--clients 8] [--threads 1]"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "status"))
from status_fixtures import Job, make_cnn, make_image_folder  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--xfer", default="build/src/cli/xfer")
parser.add_argument("--images", type=int, default=2000)
parser.add_argument("--size", type=int, default=64, help="the CNN's input size")
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--clients", type=int, default=8)
parser.add_argument("--threads", type=int, default=1, help="the job's threads")
parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # run as the load's process
parser.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
args = parser.parse_args()


def request(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except urllib.error.URLError as e:
        return -1 if isinstance(e.reason, ConnectionRefusedError) else 0  # -1: the job has ended, its server too
    except OSError:
        return 0


def client_process():
    """The load: args.clients threads until SIGTERM; prints how many requests were answered."""
    stop, counts = threading.Event(), []
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    paths = ["/api/status"] if args.interval else ["/api/status", "/", "/status.js", "/nope"]

    def one(k):
        n = k
        while not stop.is_set():
            code = request(args.client.rstrip("/") + paths[n % len(paths)])
            if code == -1:
                break
            counts.append(code)
            n += 1
            if args.interval:
                stop.wait(args.interval)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    print("ready", flush=True)
    while not stop.is_set():
        stop.wait(0.1)
    for t in threads:
        t.join()
    print(sum(1 for c in counts if c in (200, 404)), len(counts))


def sample_cpu(pid, cpu):
    """CPU seconds of the process and of its xfer-status threads, sampled until it exits (the last sample kept)."""
    tick = os.sysconf("SC_CLK_TCK")
    server_threads = {}
    while True:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                break
            process = (int(fields[11]) + int(fields[12])) / tick
            for tid in os.listdir(f"/proc/{pid}/task"):
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
                name, rest = stat.split("(", 1)[1].rsplit(")", 1)
                if name == "xfer-status":
                    f = rest.split()
                    server_threads[tid] = (int(f[11]) + int(f[12])) / tick
        except (OSError, IndexError, ValueError):
            break
        cpu["process"], cpu["server"] = process, sum(server_threads.values())
        time.sleep(0.05)


def run(mode, data, model, out):
    common = [args.xfer, "-q", "featurize", "--data", data, "--model", model, "--batch", "2", "--threads",
              str(args.threads), "--out", out, "--json"]
    if mode == "no server":
        r = subprocess.run(common, capture_output=True, text=True, check=True)
        return json.loads(r.stdout)["seconds"], 0.0, 0.0
    job = Job(args.xfer, *common[1:], "--status-port", "0")
    cpu = {}
    sampler = threading.Thread(target=sample_cpu, args=(job.proc.pid, cpu))
    sampler.start()
    load = [sys.executable, os.path.abspath(__file__), "--client", job.url]
    if mode == "polled":
        load += ["--clients", "10", "--interval", "1"]
    else:
        load += ["--clients", str(args.clients)]
    start = time.time()
    clients = subprocess.Popen(load, stdout=subprocess.PIPE, text=True)
    clients.stdout.readline()  # "ready": its SIGTERM handler is in place
    code, out_text, err = job.finish(timeout=3600)
    seconds = time.time() - start
    sampler.join()
    clients.send_signal(signal.SIGTERM)
    answered, sent = map(int, clients.communicate(timeout=60)[0].split())
    if code != 0:
        raise SystemExit(f"{mode}: the job failed: {err[-500:]}")
    if answered != sent:
        print(f"{mode}: {sent - answered} of {sent} requests were not answered (timed out or reset)")
    share = cpu.get("server", 0.0) / cpu["process"] if cpu.get("process") else float("nan")
    return json.loads(out_text)["seconds"], answered / seconds, share


if args.client:
    client_process()
    sys.exit(0)

modes = ["no server", "polled", "flooded"]
labels = {"no server": "no status server", "polled": "server, 10 clients polling 1/s",
          "flooded": f"server, flood of {args.clients} clients"}
with tempfile.TemporaryDirectory() as tmp:
    data = make_image_folder(args.xfer, f"{tmp}/fm", args.images)
    model = make_cnn(f"{tmp}/cnn.onnx", args.size)
    best = {m: (float("inf"), 0.0, 0.0) for m in modes}
    shares = {m: [] for m in modes}
    for r in range(args.rounds):
        for m in modes:
            seconds, rate, share = run(m, data, model, f"{tmp}/out-{r}-{len(m)}")
            print(f"round {r + 1}: {labels[m]:<40} {seconds:7.3f} s  {rate:6.0f} requests/s  server CPU "
                  f"{100 * share:.2f}% of the process's", flush=True)
            best[m] = min(best[m], (seconds, rate, share))
            shares[m].append(share)

base = best["no server"][0]
print(f"\nfeaturize {args.images} images, {args.size}x{args.size} CNN, batch 2, {args.threads} thread(s), on "
      f"{os.cpu_count()} cores; best of {args.rounds} rounds")
print(f"{'mode':<40} {'seconds':>8} {'requests/s':>11} {'vs no server':>13} {'server CPU (max)':>17}")
for m in modes:
    seconds, rate, _ = best[m]
    share = f"{100 * max(shares[m]):.2f}%" if m != "no server" else "-"
    print(f"{labels[m]:<40} {seconds:8.3f} {rate:11.0f} {seconds / base:12.3f}x {share:>17}")
