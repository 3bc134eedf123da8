"""The CLI as users run it: import -> train -> evaluate -> predict on a small Fashion-MNIST ImageFolder, with
bad images mixed in. Every figure is checked against an independent answer: scikit-learn trained on the same
pixels (numpy decodes the IDX files itself) with the same objective, and sklearn.metrics on xfer's predictions."""
import csv, gzip, io, json, os, subprocess, sys, tempfile
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn import metrics as skm

XFER = os.environ["XFER_BINARY"]
FM = "/usr/share/datasets/fashion-mnist"
CLASSES = "t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot".split(",")
N_TRAIN, N_TEST, REG = 1000, 300, 1.0
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")


def xfer(*args, expect=0):
    r = subprocess.run([XFER, *map(str, args)], capture_output=True, text=True)
    if r.returncode != expect:
        print(f"xfer {' '.join(map(str, args))} -> {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


with tempfile.TemporaryDirectory() as tmp:
    train, test = f"{tmp}/train", f"{tmp}/test"
    r = xfer("data", "import-idx", "--images", f"{FM}/train-images-idx3-ubyte.gz", "--labels",
             f"{FM}/train-labels-idx1-ubyte.gz", "--class-names", ",".join(CLASSES), "--limit", N_TRAIN, "--out", train)
    check("import-idx train", r.returncode == 0)
    r = xfer("data", "import-idx", "--images", f"{FM}/t10k-images-idx3-ubyte.gz", "--labels",
             f"{FM}/t10k-labels-idx1-ubyte.gz", "--class-names", ",".join(CLASSES), "--limit", N_TEST, "--out", test)
    check("import-idx test", r.returncode == 0)

    # Bad images in the test set: each must be skipped, named, and counted; the job must finish.
    bad = {"empty.png": b"", "garbage.jpg": b"this is not an image" * 10,
           "truncated.png": open(next(os.path.join(dp, f) for dp, _, fs in os.walk(f"{test}/bag") for f in fs), "rb").read()[:60]}
    for name, data in bad.items():
        with open(f"{test}/coat/{name}", "wb") as f:
            f.write(data)

    pipe = f"{tmp}/p.json"
    r = xfer("train", "--data", train, "--model", "pixels", "--reg", REG, "--max-iter", 400, "--tol", 1e-9, "--out", pipe)
    check("train exit code 0", r.returncode == 0)
    r = xfer("evaluate", "--pipeline", pipe, "--data", test, "--json", f"{tmp}/m.json", "--report", f"{tmp}/report")
    check("evaluate exit code 0", r.returncode == 0)
    m = json.load(open(f"{tmp}/m.json"))
    for key in ["accuracy", "log_loss", "roc_auc", "pr_auc", "confusion_matrix", "per_class", "n_images", "n_skipped", "skipped"]:
        check(f"evaluate JSON has {key}", key in m)
    check("skipped count", m["n_skipped"] == 3 and m["n_images"] == N_TEST, f"{m['n_skipped']} skipped, {m['n_images']} used")
    skipped_names = sorted(os.path.basename(s["path"]) for s in m["skipped"])
    check("skipped files named in JSON", skipped_names == sorted(bad), str(skipped_names))
    check("skipped files named in warnings", all(n in r.stderr for n in bad))
    html = open(f"{tmp}/report/index.html").read()
    check("skipped files named in report", all(n in html for n in bad))
    check("report has confusion matrix and ROC SVG", html.count("<svg") == 2)

    # Independent answer: sklearn on the same pixels, same objective. MLlib's objective
    # mean(loss) + reg/2 ||w/sigma||^2 on standardised features == sklearn's C = 1/(n reg) on X/sigma.
    X = idx(f"{FM}/train-images-idx3-ubyte.gz")[:N_TRAIN].reshape(N_TRAIN, -1).astype(np.float64)
    y = idx(f"{FM}/train-labels-idx1-ubyte.gz")[:N_TRAIN]
    Xt = idx(f"{FM}/t10k-images-idx3-ubyte.gz")[:N_TEST].reshape(N_TEST, -1).astype(np.float64)
    yt = idx(f"{FM}/t10k-labels-idx1-ubyte.gz")[:N_TEST]
    sigma = X.std(axis=0, ddof=1)
    sigma[sigma == 0] = 1
    clf = LogisticRegression(C=1 / (N_TRAIN * REG), tol=1e-10, max_iter=5000).fit(X / sigma, y)
    sk_prob = clf.predict_proba(Xt / sigma)

    # predict on the test images (folders) as JSON; the rows must match sklearn's probabilities.
    r = xfer("predict", "--pipeline", pipe, "--format", "json", test)
    check("predict exit code 0 with some bad images", r.returncode == 0)
    pred = json.loads(r.stdout)
    rows = {os.path.relpath(p["path"], test): p for p in pred["predictions"]}
    check("predict reports the bad images with an error", all("error" in rows[f"coat/{n}"] for n in bad))
    ours = []
    order = []
    for label, cls in enumerate(CLASSES):
        for f in sorted(os.listdir(f"{test}/{cls}")):
            if f in bad:
                continue
            order.append(int(f.split(".")[0]))
            ours.append([rows[f"{cls}/{f}"]["probabilities"][c] for c in CLASSES])
    ours = np.array(ours)
    ref = sk_prob[order]

    # predict must apply exactly the pipeline's model to exactly the pixels numpy reads from the IDX file.
    # (the pipeline's classes are the sorted folder names; reorder its rows to the IDX label order)
    saved = json.load(open(pipe))
    rows_in_idx_order = [saved["class_names"].index(c) for c in CLASSES]
    W = np.array(saved["classifier"]["coefficients"])[rows_in_idx_order]
    b = np.array(saved["classifier"]["intercepts"])[rows_in_idx_order]

    def softmax(Z):
        Z = Z - Z.max(1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(1, keepdims=True)

    mine = softmax(Xt[order] @ W.T + b)
    check("predict applies the saved model to the decoded pixels", np.abs(ours - mine).max() < 1e-6,
          f"max diff {np.abs(ours - mine).max():.2e}")

    # The same objective, minimised at least as well as sklearn minimises it (the valley is flat: coefficients of
    # two well-converged solvers differ by ~1e-3 relative here, their objectives by ~1e-7).
    def objective(W_std, b):
        P = softmax((X / sigma) @ W_std.T + b)
        return -np.log(P[np.arange(N_TRAIN), y]).mean() + REG / 2 * (W_std ** 2).sum()

    ours_obj, sk_obj = objective(W * sigma, b), objective(clf.coef_, clf.intercept_)
    check("training minimises MLlib's objective at least as well as sklearn", ours_obj <= sk_obj * (1 + 1e-6),
          f"{ours_obj:.9f} vs sklearn {sk_obj:.9f}")
    diff = np.abs(ours - ref).max()
    check("predict probabilities agree with sklearn's model", diff < 1e-2, f"max diff {diff:.2e}")
    acc = skm.accuracy_score(yt[order], ours.argmax(1))
    check("evaluate accuracy equals sklearn.metrics on xfer's predictions", abs(acc - m["accuracy"]) < 1e-9,
          f"{m['accuracy']:.4f} vs {acc:.4f}")
    check("accuracy equals sklearn's own model", abs(m["accuracy"] - skm.accuracy_score(yt, sk_prob.argmax(1))) < 0.01,
          f"{m['accuracy']:.4f} vs {skm.accuracy_score(yt, sk_prob.argmax(1)):.4f}")

    r = xfer("predict", "--pipeline", pipe, "--format", "csv", f"{test}/bag")
    rows_csv = list(csv.DictReader(io.StringIO(r.stdout)))
    check("predict csv has one row per image", len(rows_csv) == len(os.listdir(f"{test}/bag")) and "p_bag" in rows_csv[0])

    # --top-k: the K most probable classes, most probable first, from the same probabilities.
    r = xfer("predict", "--pipeline", pipe, "--format", "json", "--top-k", 3, f"{test}/bag")
    rows = json.loads(r.stdout)["predictions"] if r.returncode == 0 else []
    ok = bool(rows)
    for row in rows:
        want = sorted(row["probabilities"].items(), key=lambda kv: -kv[1])[:3]
        ok &= [t["class"] for t in row["top"]] == [c for c, _ in want] and row["top"][0]["class"] == row["class"]
    check("predict --top-k 3: the three most probable classes in order", ok)
    r = xfer("predict", "--pipeline", pipe, "--format", "csv", "--top-k", 2, f"{test}/bag")
    rows_csv = list(csv.DictReader(io.StringIO(r.stdout)))
    check("predict --top-k 2 csv: the runner-up and its probability",
          all(row["top2_class"] != row["class"] and float(row["top2_probability"]) <= float(row["probability"])
              and abs(float(row["p_" + row["top2_class"]]) - float(row["top2_probability"])) < 1e-6 for row in rows_csv)
          and len(rows_csv) > 0)

    # The report's gallery of mistakes: every misclassified test image is counted, the most confident mistakes come
    # first, and the thumbnails are real JPEGs of the images (decoded here by OpenCV, not by xfer).
    import cv2, re
    html = open(f"{tmp}/report/index.html").read()
    r = xfer("predict", "--pipeline", pipe, "--format", "json", test)
    preds = {p["path"]: p for p in json.loads(r.stdout)["predictions"] if "class" in p}
    truth = {p: p.split("/")[-2] for p in preds}
    conf = np.array(m["confusion_matrix"])
    for c, name in enumerate(m["class_names"]):
        wrong = int(conf[c].sum() - conf[c, c])
        check(f"gallery: {name} has its {wrong} mistakes counted", f"{name}: {wrong} of {int(conf[c].sum())} wrong" in html)
    shown = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" width="(\d+)" height="(\d+)" alt="([^"]+)"', html)
    import base64
    decoded = [cv2.imdecode(np.frombuffer(base64.b64decode(b), np.uint8), cv2.IMREAD_UNCHANGED) for b, _, _, _ in shown]
    check("gallery thumbnails are JPEGs of the 28x28 images", len(shown) > 0 and all(
        d is not None and d.shape[:2] == (28, 28) and int(w) == 28 for d, (_, w, _, _) in zip(decoded, shown)), f"{len(shown)} shown")
    order_ok = True
    for name in CLASSES:
        mine = [a for _, _, _, a in shown if a.split("/")[-2] == name]
        conf_of = [max(preds[a]["probabilities"].values()) for a in mine]
        all_wrong = sorted((max(p["probabilities"].values()) for a, p in preds.items() if truth[a] == name and p["class"] != name),
                           reverse=True)
        order_ok &= conf_of == all_wrong[: len(conf_of)] and all(preds[a]["class"] != name for a in mine)
    check("gallery: per class, the most confident mistakes, in order", order_ok)
    check("report stays one small file", os.path.getsize(f"{tmp}/report/index.html") < 2_000_000,
          f"{os.path.getsize(f'{tmp}/report/index.html')} bytes")

    # --reg auto, the default: cross-validated, the table printed, the grid and choice recorded, the curve drawn
    # (on the first 300 training images: CI time).
    small = f"{tmp}/train-small"
    xfer("data", "import-idx", "--images", f"{FM}/train-images-idx3-ubyte.gz", "--labels",
         f"{FM}/train-labels-idx1-ubyte.gz", "--class-names", ",".join(CLASSES), "--limit", 300, "--out", small)
    auto = f"{tmp}/auto.json"
    r = xfer("train", "--data", small, "--model", "pixels", "--out", auto)
    check("train --reg auto (default) exit 0 and prints the CV table", r.returncode == 0 and "<- chosen" in r.stdout)
    t = json.load(open(auto))["training"]
    cv = t.get("cross_validation", {})
    evaluated = [p for p in cv.get("grid", []) if p["fold_scores"]]
    best = min(evaluated, key=lambda p: p["mean"]) if evaluated else None
    check("auto: grid, per-fold scores and choice in the pipeline file",
          len(cv.get("grid", [])) >= 10 and all(len(p["fold_scores"]) == 5 for p in evaluated)
          and best is not None and cv["chosen"]["reg"] == best["reg"] == t["options"]["reg"]
          and t["options"]["reg_chosen_by"] == "cross-validation"
          and all(abs(np.mean(p["fold_scores"]) - p["mean"]) < 1e-12 for p in evaluated), json.dumps(cv)[:300])
    r = xfer("evaluate", "--pipeline", auto, "--data", test, "--report", f"{tmp}/auto-report")
    auto_html = open(f"{tmp}/auto-report/index.html").read()
    check("report draws the CV curve: one line per fold, the choice marked",
          r.returncode == 0 and auto_html.count('class="cv-fold"') == 5 and 'class="cv-chosen"' in auto_html)
    r = xfer("train", "--data", small, "--model", "pixels", "--reg", 0, "--max-iter", 20, "--out", f"{tmp}/zero.json")
    t = json.load(open(f"{tmp}/zero.json"))["training"]
    check("--reg 0 is MLlib's plain default: no cross-validation", r.returncode == 0 and "cross_validation" not in t
          and t["options"]["reg"] == 0)
    check("--reg not a number is a usage error", xfer("train", "--data", train, "--out", pipe, "--reg", "lots", expect=2).returncode == 2)

    # Usage errors exit 2, failures exit 1 with the file named.
    check("negative --reg is a usage error", xfer("train", "--data", train, "--model", "pixels", "--out", pipe, "--reg", "-1", expect=2).returncode == 2)
    check("unknown --format is a usage error", xfer("predict", "--pipeline", pipe, "--format", "xml", test, expect=2).returncode == 2)
    r = xfer("train", "--data", f"{tmp}/nowhere", "--model", "pixels", "--out", pipe, expect=1)
    check("missing data folder names it", r.returncode == 1 and "nowhere" in r.stderr, r.stderr.strip())
    os.makedirs(f"{tmp}/one/only")
    subprocess.run(["cp", "-r", f"{train}/bag/.", f"{tmp}/one/only/"], check=True)
    r = xfer("train", "--data", f"{tmp}/one", "--model", "pixels", "--out", pipe, expect=1)
    check("single class is a clear error", r.returncode == 1 and "class" in r.stderr, r.stderr.strip())
    open(f"{tmp}/bad.json", "w").write("{not json")
    r = xfer("predict", "--pipeline", f"{tmp}/bad.json", test, expect=1)
    check("damaged pipeline names the file", r.returncode == 1 and "bad.json" in r.stderr, r.stderr.strip())
    # A pipeline pins its model's weights: the same file path with other weights is refused, not used.
    import onnx
    from onnx import helper, TensorProto, numpy_helper

    def tiny_cnn(path, seed):
        w = np.random.default_rng(seed).normal(size=(4, 3, 3, 3)).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]), helper.make_node("Flatten", ["g"], ["f"])],
            "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
            [helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 4])], [numpy_helper.from_array(w, "w")])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)

    tiny, cnn_pipe = f"{tmp}/tiny.onnx", f"{tmp}/cnn.json"
    tiny_cnn(tiny, 1)
    r = xfer("train", "--data", train, "--model", tiny, "--reg", 0.1, "--out", cnn_pipe)
    check("train on an ONNX model", r.returncode == 0)
    check("predict with the unchanged model", xfer("predict", "--pipeline", cnn_pipe, f"{test}/bag").returncode == 0)
    tiny_cnn(tiny, 2)
    r = xfer("predict", "--pipeline", cnn_pipe, f"{test}/bag", expect=1)
    check("a changed model is refused, naming the pipeline", r.returncode == 1 and "cnn.json" in r.stderr and "changed" in r.stderr,
          r.stderr.strip()[-300:])

    check("help for every command", all(xfer(c, "--help").returncode == 0 for c in ["train", "evaluate", "predict", "featurize"]))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
