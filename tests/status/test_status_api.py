"""/api/status and `xfer status` against the jobs' own output, a failing job, and the server's security, with real
jobs of the real binary:
- train and evaluate (raw pixels on Fashion-MNIST) with --status-port 0: the final /api/status result equals what
  the job printed (evaluate --json -: every key; train: its printed figures), the loss per iteration is there with
  its drawing, the evaluation's confusion matrix and ROC are drawn; `xfer status URL [--json]` says the same;
- a job that fails shows the failure with rank 0 and this host, and `xfer status --watch` exits 1 on it;
- security: loopback only by default (the kernel's socket table), GET only (405 for every other method), 404 for
  unknown paths and every path-traversal spelling with no file's contents, 403 for a foreign Host header, a busy
  port refused before the job starts, a warning when told to listen on every address;
- a flood of requests from 8 local clients during a featurisation neither stops the job nor changes its result
  (the features are the same bytes as those of the same job run without a server); `xfer status --watch` follows
  that job to its end meanwhile; 300 idle connections do not take the job's file descriptors."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, xfer_binary  # noqa: E402
from status_fixtures import Job, get, make_cnn, make_image_folder  # noqa: E402

XFER = xfer_binary()
checks = Checks()
check = checks.check


def wait_finished(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        code, body, _ = get(url + "api/status")
        if code == 200:
            status = json.loads(body)
            if status["finished"]:
                return status
        time.sleep(0.1)
    raise SystemExit(f"{url} did not finish within {timeout} s")


def raw_request(port, request):
    """Sends bytes exactly as given (no client library tidies the path) and returns the answer's status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    return status, body.decode("utf-8", "replace")


def listening_addresses(port):
    """Local addresses of the listening sockets on port, from the kernel's tables."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            address, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


with tempfile.TemporaryDirectory() as tmp:
    data = make_image_folder(XFER, f"{tmp}/fm", 400)
    pipe = f"{tmp}/p.json"

    # --- train: the printed figures and the loss per iteration ---
    job = Job(XFER, "train", "--data", data, "--model", "pixels", "--reg", 0.1, "--max-iter", 30, "--out", pipe,
              "--status-port", 0, "--status-linger", 60)
    status = wait_finished(job.url)
    job.stop_lingering()
    code, out, err = job.finish()
    check("train exits 0", code == 0, err[-300:])
    m = re.search(r"training: (\d+) iterations .*training accuracy ([0-9.]+)", out)
    result = status["result"]
    check("train: phases listing, featurizing, training, done",
          [p["name"] for p in status["phases"]] == ["listing", "featurizing", "training", "done"],
          str([p["name"] for p in status["phases"]]))
    check("train: result iterations and accuracy equal the printed ones",
          m and result["iterations"] == int(m.group(1)) and f"{result['train_accuracy']:.4f}" == m.group(2),
          f"{result} vs {out}")
    check("train: one loss point per iteration, in order",
          [p[0] for p in status["loss"]] == list(range(1, result["iterations"] + 1)), str(status["loss"][:5]))
    check("train: the objective falls", status["loss"][-1][1] < status["loss"][0][1])
    check("train: the loss is drawn", "<polyline" in status["figures"].get("loss_svg", ""))
    check("train: skipped files counted as the job counted them", status["skipped"]["count"] == result["skipped"] == 2)
    check("train: stages featurize then train, both complete",
          [(s["label"], s["state"]) for s in status["stages"]] == [("featurize", "complete"), ("train", "complete")],
          str(status["stages"]))

    # --- train with --reg chosen by cross-validation: the loss drawn is the final fit's alone ---
    job = Job(XFER, "train", "--data", data, "--model", "pixels", "--out", f"{tmp}/cv.json", "--status-port", 0,
              "--status-linger", 60)
    status = wait_finished(job.url)
    job.stop_lingering()
    code, out, err = job.finish()
    check("train --reg auto exits 0", code == 0, err[-300:])
    check("train --reg auto: stages featurize, cross-validation, then the final fit",
          [s["label"] for s in status["stages"]] == ["featurize", "cross-validation", "train"],
          str([s["label"] for s in status["stages"]]))
    check("train --reg auto: the loss is the final fit's, one point per iteration (no fold's mixed in)",
          [p[0] for p in status["loss"]] == list(range(1, status["result"]["iterations"] + 1)),
          f"{len(status['loss'])} points, {status['result']['iterations']} iterations")

    # --- evaluate: every key of --json equals the page's result; figures drawn ---
    job = Job(XFER, "evaluate", "--pipeline", pipe, "--data", data, "--json", "-", "--status-port", 0,
              "--status-linger", 60)
    status = wait_finished(job.url)
    text = subprocess.run([XFER, "status", job.url], capture_output=True, text=True)
    as_json = subprocess.run([XFER, "status", job.url.rstrip("/") + "/api/status", "--json"], capture_output=True,
                             text=True)
    watched = subprocess.run([XFER, "status", job.url, "--watch", "--json"], capture_output=True, text=True)
    url = job.url
    port = int(url.rsplit(":", 1)[1].strip("/"))

    # --- security, on this lingering job ---
    addresses = listening_addresses(port)
    check("listens on 127.0.0.1 only by default", addresses == ["0100007F"], str(addresses))
    others = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for address in others[:2]:
        try:
            socket.create_connection((address, port), timeout=2).close()
            reached = True
        except OSError:
            reached = False
        check(f"not reachable on this machine's address {address}", not reached)
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"]:
        code, body = raw_request(port, f"{method} /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n".encode())
        # HTTP's own methods get 405; a method HTTP does not define is not even parsed (400).
        expected = 400 if method == "PROPFIND" else 405
        check(f"{method} is refused with {expected}", code == expected, f"{code} {body[:80]}")
    code, body = raw_request(port, b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    check("HEAD is GET without the body", code == 200 and body == "", f"{code} {len(body)}")
    for path in ["/etc/passwd", "/../../etc/passwd", "/../../../../../../etc/passwd", "/api/status/../../../etc/passwd",
                 "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/status.js/../../etc/passwd",
                 "//etc/passwd", "/api/../../etc/passwd", "/index.html", "/api", "/api/status/x", "/favicon.ico",
                 "/.git/config", "/proc/self/environ", "/build/CMakeCache.txt"]:
        code, body = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        check(f"GET {path} is 404 and shows no file", code == 404 and "root:" not in body and len(body) < 100,
              f"{code} {body[:80]!r}")
    code, body = raw_request(port, b"GET /api/status HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n")
    check("a foreign Host header is refused (DNS rebinding)", code == 403, str(code))
    code, _, headers = get(url)
    csp = headers.get("Content-Security-Policy", "")
    check("the page forbids inline and foreign scripts", code == 200 and "script-src 'self'" in csp and
          "default-src 'none'" in csp and headers.get("X-Content-Type-Options") == "nosniff", csp)
    busy = subprocess.run([XFER, "featurize", "--data", data, "--out", f"{tmp}/busy", "--status-port", str(port)],
                          capture_output=True, text=True)
    check("a busy port is refused before the job starts", busy.returncode == 1 and f"127.0.0.1:{port}" in busy.stderr
          and not os.path.exists(f"{tmp}/busy"), busy.stderr.strip()[-200:])

    job.stop_lingering()
    code, out, err = job.finish()
    check("evaluate exits 0", code == 0, err[-300:])
    printed = json.loads(out)
    result = status["result"]
    check("evaluate: every key it printed equals the page's result",
          all(result.get(k) == v for k, v in printed.items()),
          str([k for k, v in printed.items() if result.get(k) != v]))
    check("evaluate: the confusion matrix is drawn with the job's counts",
          all(f">{n}</text>" in status["figures"].get("confusion_svg", "") for row in printed["confusion_matrix"]
              for n in row))
    check("evaluate: one ROC curve per class drawn",
          status["figures"].get("roc_svg", "").count("<polyline") == len(printed["class_names"]))
    check("xfer status prints the job, its phase and accuracy",
          text.returncode == 0 and "xfer evaluate: done" in text.stdout and
          f"accuracy           {printed['accuracy']:.4f}" in text.stdout, text.stdout + text.stderr)
    got = json.loads(as_json.stdout) if as_json.returncode == 0 else {}
    check("xfer status --json (given the /api/status address) is the job's status",
          got.get("schema") == "xfer-status/1" and got.get("result") == result, as_json.stderr)
    check("xfer status --watch on a finished job prints it once and exits 0",
          watched.returncode == 0 and len(watched.stdout.strip().splitlines()) == 1, watched.stderr)

    # --- a failing job ---
    os.makedirs(f"{tmp}/bad/a")
    os.makedirs(f"{tmp}/bad/b")
    for name in ["a/1.png", "b/2.jpg"]:
        open(f"{tmp}/bad/{name}", "wb").write(b"not an image")
    job = Job(XFER, "featurize", "--data", f"{tmp}/bad", "--out", f"{tmp}/bad-features", "--status-port", 0,
              "--status-linger", 60)
    status = wait_finished(job.url)
    watched = subprocess.run([XFER, "status", job.url, "--watch"], capture_output=True, text=True)
    job.stop_lingering()
    code, out, err = job.finish()
    failure = status["failure"] or {}
    check("the failing job exits 1", code == 1, err[-200:])
    check("the page shows the failure as the job reported it",
          status["phase"] == "failed" and failure.get("message", "") in err and "no image could be read" in
          failure.get("message", ""), str(failure))
    check("... with the rank and host that caused it",
          failure.get("rank") == 0 and failure.get("host") == socket.gethostname(), str(failure))
    check("... and rank 0's row failed", status["ranks"][0]["state"] == "failed", str(status["ranks"]))
    check("xfer status --watch exits 1 on a failed job and says why",
          watched.returncode == 1 and "FAILED on rank 0" in watched.stdout, watched.stdout + watched.stderr)
    gone = subprocess.run([XFER, "status", job.url], capture_output=True, text=True)
    check("xfer status on a job that has gone: exit 1 naming the address", gone.returncode == 1 and
          job.url.rstrip("/") in gone.stderr, gone.stderr.strip())

    # --- told to listen on every address: it does, and says so ---
    r = subprocess.run([XFER, "featurize", "--data", data, "--out", f"{tmp}/open", "--status-port", "0",
                        "--status-bind", "0.0.0.0"], capture_output=True, text=True)
    check("--status-bind 0.0.0.0 warns that anyone can watch", r.returncode == 0 and "anyone" in r.stderr,
          r.stderr[-300:])

    # --- a flood of requests during a featurisation: same result, job unharmed ---
    model = make_cnn(f"{tmp}/cnn.onnx", 64)
    common = ["featurize", "--data", data, "--model", model, "--batch", 2, "--threads", 1]
    plain = subprocess.run([XFER, *map(str, common), "--out", f"{tmp}/quiet"], capture_output=True, text=True)
    check("the job without a server runs", plain.returncode == 0, plain.stderr[-300:])
    job = Job(XFER, *common, "--out", f"{tmp}/flooded", "--json", "--status-port", 0, "--status-linger", 60)
    answers, stop = [], threading.Event()

    def flood(k):
        paths = ["/api/status", "/", "/status.js", "/nope"]
        n = 0
        while not stop.is_set() and n < 20000:
            try:
                code, _, _ = get(job.url.rstrip("/") + paths[(k + n) % len(paths)], timeout=10)
            except OSError as e:
                code = str(e)
            answers.append(code)
            n += 1

    clients = [threading.Thread(target=flood, args=(k,)) for k in range(8)]
    for c in clients:
        c.start()
    # Meanwhile a terminal follows the same job: one JSON line each time the status changes, until the end.
    follower = subprocess.Popen([XFER, "status", job.url, "--watch", "--json", "--interval", "0.2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    status = wait_finished(job.url)
    followed, follower_err = follower.communicate(timeout=60)
    stop.set()
    for c in clients:
        c.join()
    job.stop_lingering()
    code, out, err = job.finish()
    check("the flooded job finishes with exit 0", code == 0, err[-300:])
    bad = [a for a in answers if a not in (200, 404)]
    check("every request of the flood was answered (200 or 404)", len(answers) > 20 and not bad,
          f"{len(answers)} requests, unexpected: {bad[:5]}")
    check("the result survived the flood", status["result"] == json.loads(out))
    lines = [json.loads(line) for line in followed.splitlines()]
    counts = [(line.get("totals") or {}).get("done", 0) for line in lines]
    check("xfer status --watch followed the running job to its end", follower.returncode == 0 and len(lines) >= 2
          and lines[-1]["phase"] == "done" and lines[-1]["result"] == status["result"], follower_err[-300:])
    check("... its counts never went back", all(a <= b for a, b in zip(counts, counts[1:])), str(counts))
    same = all(open(f"{tmp}/quiet/{f}", "rb").read() == open(f"{tmp}/flooded/{f}", "rb").read()
               for f in os.listdir(f"{tmp}/quiet") if f != "manifest.json")
    check("the features are the same bytes as without the server",
          same and sorted(os.listdir(f"{tmp}/quiet")) == sorted(os.listdir(f"{tmp}/flooded")),
          str(os.listdir(f"{tmp}/quiet")))
    print(f"flood: {len(answers)} requests answered during the job")

    # --- 300 connections that never send a request: the page may be slow for others meanwhile, but accepting
    # waits once a few dozen wait to be served, so they cannot take the file descriptors the job needs ---
    job = Job(XFER, *common, "--out", f"{tmp}/idle", "--status-port", 0)
    port = int(job.url.rsplit(":", 1)[1].strip("/"))
    fds_before = len(os.listdir(f"/proc/{job.proc.pid}/fd"))
    idle = []
    for _ in range(300):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        idle.append(s)
    time.sleep(1)
    fds_during = len(os.listdir(f"/proc/{job.proc.pid}/fd")) if job.proc.poll() is None else None
    for s in idle:
        s.close()
    code, out, err = job.finish()
    check("300 idle connections hold few of the job's file descriptors",
          fds_during is not None and fds_during - fds_before < 60, f"{fds_before} before, {fds_during} during")
    check("... and the job finishes with the same features", code == 0 and all(
        open(f"{tmp}/quiet/{f}", "rb").read() == open(f"{tmp}/idle/{f}", "rb").read()
        for f in os.listdir(f"{tmp}/quiet") if f != "manifest.json"), err[-300:])

checks.finish()
