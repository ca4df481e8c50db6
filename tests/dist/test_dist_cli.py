#!/usr/bin/env python3
"""`mpirun -np N plexus train` and what happens when a rank fails.

1. Killed and resumed: the course's ConvNet trains on 6,000 Fashion-MNIST
   images (1,500 in sanitizer builds; a tenth held out) with 3 ranks and a
   checkpoint per epoch; as soon as the first checkpoint appears, rank 1 is
   killed (SIGKILL). The run asks for 20 epochs, so that no machine, however
   fast, ends it before the kill (epochs it never reaches cost nothing); the
   kill lands in epoch 2 or, on a fast machine, a little later: the test holds
   for any epoch. mpirun must exit non-zero within 30 s saying which rank died.
   The first checkpoint must load and hold exactly the weights of a 3-rank run
   that stopped after epoch 1; `plexus train --resume` on the last checkpoint
   must train one more epoch with 2 ranks as one process does from the same
   checkpoint (1e-5). Only rank 0 prints (summary, progress) and writes files:
   one TensorBoard event file per folder.
   Why not compare with one uninterrupted process: the 3 ranks' sums round
   differently (see test_dist_equal), and over hundreds of steps of this
   ConvNet such differences grow to 1e-3 (a rounding flips a ReLU, and the
   flip spreads), while resuming itself is bit-exact.
2. A rank that fails (tests/dist/dist_failures.c): fit stops on every rank
   with the failing rank's message; ranks that disagree on the data (its size,
   or one value) refuse to start; a rank that hangs is given up on after
   PX_DIST_TIMEOUT seconds and the job ends. Only the hang sets the short
   timeout: elsewhere a rank slowed down 2 s by a busy machine must not count as
   lost.
3. Other options under mpirun: iris from CSV files (--train-csv --header
   --test-csv), Adam with a learning rate, --metrics, --validation-split and
   --early-stopping (which stops at epoch 8 and restores epoch 5's weights):
   2 ranks stop at the same epoch as one process, print the same test results
   once, and end within 1e-5 of its weights (2e-7 measured).
Usage: test_dist_cli.py --plexus BIN --failures BIN --mpirun "mpirun ARGS"
"""
import argparse
import glob
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what, flush=True)
    if not cond:
        failures.append(what)


def weights(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.array(obj, dtype=np.float64)
        f["model_weights"].visititems(visit)
    return out


def rel_diff(a, b):
    worst = 0.0
    for k in a:
        scale = max(np.max(np.abs(a[k])), 1e-12)
        worst = max(worst, float(np.max(np.abs(a[k] - b[k]))) / scale)
    return worst


def with_options(args, **values):
    """args with the values of some options replaced (epochs=3: --epochs 3; v=2: -v 2)."""
    out = [*args]
    for name, value in values.items():
        flag = f"-{name}" if len(name) == 1 else f"--{name}"
        out[out.index(flag) + 1] = str(value)
    return out


def rank_pid(parent, rank):
    """The pid of the given rank among mpirun's children (from their environment)."""
    for pid in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split():
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(pid)
    return None


def killed_and_resumed(a, work):
    model = os.path.join(a.root, "tests/data/models/fashion_convnet.json")
    # sanitizer builds run about 10x slower: fewer images keep an epoch a few seconds long
    limit = "1500" if os.environ.get("PX_TEST_SANITIZE") else "6000"
    fm = "/usr/share/datasets/fashion-mnist/"
    # the 10,000 test images as training data: a quarter of the training set's reading time
    common = [model, "--train-idx", fm + "t10k-images-idx3-ubyte.gz", fm + "t10k-labels-idx1-ubyte.gz",
              "--limit", limit, "--validation-split", "0.1", "--batch-size", "32", "--seed", "5", "--epochs", "2",
              "-v", "0"]
    clean = os.path.join(work, "epoch1.h5")
    one_epoch = with_options(common, epochs=1, v=2)
    r = subprocess.run([*a.mpirun, "-np", "3", a.plexus, "train", *one_epoch, "-o", clean], capture_output=True,
                       text=True)
    check(r.returncode == 0, f"3 ranks train 1 epoch ({r.stderr.strip()[-300:]})")
    shown = [r.stdout.count(s) for s in ("Model: ", " - val_loss: ", "saved ")]
    check(shown == [1, 1, 1], f"only rank 0 prints the summary, the epoch's line and 'saved' ({shown})")

    ckpt = os.path.join(work, "ck-{epoch:02d}.h5")
    tb = os.path.join(work, "tb")
    # Twenty epochs, so that no machine finishes the run between the first
    # checkpoint and the kill; the epochs after the kill never run.
    long_run = with_options(common, epochs=20)
    job = subprocess.Popen([*a.mpirun, "-np", "3", a.plexus, "train", *long_run, "--checkpoint", ckpt,
                            "--tensorboard", tb, "-o", os.path.join(work, "killed.h5")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = os.path.join(work, "ck-01.h5")
    deadline = time.time() + 240
    while not os.path.exists(first) and job.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    victim = rank_pid(job.pid, 1)
    check(victim is not None and job.poll() is None, "the job is past epoch 1 with rank 1 alive")
    if victim is None:
        job.kill()
        return
    os.kill(victim, signal.SIGKILL)
    t0 = time.time()
    try:
        out, _ = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        out, _ = job.communicate()
    took = time.time() - t0
    print(out.strip()[-800:])
    check(job.returncode != 0 and took < 30, f"mpirun exits non-zero {took:.1f} s after the kill (rc {job.returncode})")
    check("rank 1" in out and "signal 9" in out, "the message names rank 1 and the signal")
    check(not os.path.exists(os.path.join(work, "killed.h5")), "the run was killed before its end")
    events = [p for p in glob.glob(os.path.join(tb, "**", "*tfevents*"), recursive=True)]
    check(len(events) >= 1 and len(events) == len({os.path.dirname(p) for p in events}),
          f"one TensorBoard event file per folder, from rank 0 ({len(events)} files)")

    ckpts = sorted(glob.glob(os.path.join(work, "ck-*.h5")))
    check(len(ckpts) >= 1, f"checkpoints left: {[os.path.basename(c) for c in ckpts]}")
    if not ckpts:
        return
    last = ckpts[-1]
    epoch = int(os.path.basename(last)[3:5])
    ev = subprocess.run([a.plexus, "evaluate", last, "--test-idx", fm + "t10k-images-idx3-ubyte.gz",
                         fm + "t10k-labels-idx1-ubyte.gz", "--limit", "500"], capture_output=True, text=True)
    check(ev.returncode == 0 and "accuracy" in ev.stdout, f"{os.path.basename(last)} is intact (plexus evaluate)")
    if os.path.exists(clean):
        d = rel_diff(weights(clean), weights(first))
        check(d == 0, f"ck-01.h5 holds the weights of 3 ranks after epoch 1 (difference {d:.2e})")
    resumed = {}
    for launch in ([*a.mpirun, "-np", "2"], []):
        out = os.path.join(work, f"resumed{len(launch)}.h5")
        resume = with_options(common[1:], epochs=epoch + 1)
        r = subprocess.run([*launch, a.plexus, "train", "--resume", last, "--initial-epoch", str(epoch), *resume,
                            *([] if launch else ["--threads", "1"]), "-o", out], capture_output=True, text=True)
        who = "2 ranks" if launch else "one process"
        check(r.returncode == 0, f"{who} resume from epoch {epoch} ({r.stderr.strip()[-300:]})")
        if r.returncode == 0:
            resumed[who] = weights(out)
    if len(resumed) == 2:
        d = rel_diff(resumed["one process"], resumed["2 ranks"])
        check(d <= 1e-5, f"2 ranks end within {d:.2e} of one process resumed from the same checkpoint")


def csv_options(a, work):
    iris = os.path.join(a.root, "tests/data/iris.csv")
    opts = [os.path.join(a.root, "tests/data/models/iris_mlp.json"), "--train-csv", iris, "--header", "--test-csv", iris,
            "--optimizer", "adam", "--learning-rate", "0.05", "--metrics", "accuracy", "--validation-split", "0.2",
            "--batch-size", "16", "--epochs", "60", "--early-stopping", "3", "--seed", "7", "-v", "2"]
    runs = {}
    for who, launch in (("one process", ["--threads", "1"]), ("2 ranks", None)):
        out = os.path.join(work, f"iris-{len(runs)}.h5")
        cmd = [a.plexus, "train", *opts, *launch, "-o", out] if launch else \
            [*a.mpirun, "-np", "2", a.plexus, "train", *opts, "-o", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"iris from CSV, {who} ({r.stderr.strip()[-300:]})")
        if r.returncode != 0:
            return
        lines = r.stdout.splitlines()
        stop = [s for s in lines if "early stopping" in s or s.startswith("Restoring")]
        tests = [float(s.split(": ")[1]) for s in lines if s.startswith("test loss: ") or s.startswith("test accuracy: ")]
        runs[who] = (stop, tests, weights(out), r.stdout.count("saved "))
    (s1, t1, w1, _), (s2, t2, w2, saved) = runs["one process"], runs["2 ranks"]
    check(len(s1) == 2 and s1 == s2, f"early stopping: {s2} as one process")
    check(len(t1) == 2 and len(t2) == 2 and all(abs(x - y) <= 2e-4 for x, y in zip(t1, t2)) and saved == 1,
          f"test loss and accuracy {t2} as one process's {t1}, printed once")
    d = rel_diff(w1, w2)
    check(d <= 1e-5, f"2 ranks end within {d:.2e} of one process")


def model_from_stdin(a, work):
    """The model JSON on standard input: rank 0 drains it once, for every rank."""
    iris = os.path.join(a.root, "tests/data/iris.csv")
    with open(os.path.join(a.root, "tests/data/models/iris_mlp.json")) as f:
        text = f.read()
    out = os.path.join(work, "iris-stdin.h5")
    r = subprocess.run([*a.mpirun, "-np", "2", a.plexus, "train", "-", "--train-csv", iris, "--header", "--epochs", "2",
                        "--seed", "7", "-v", "0", "-o", out], input=text, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and os.path.exists(out),
          f"the model JSON on standard input under 2 ranks ({r.stderr.strip()[-300:]})")


def failing_ranks(a):
    for mode, expect_rc in (("fail", 0), ("disagree", 0), ("otherdata", 0), ("hang", None)):
        env = dict(os.environ, PX_DIST_TIMEOUT="2" if mode == "hang" else "60")
        t0 = time.time()
        r = subprocess.run([*a.mpirun, "-x", "PX_DIST_TIMEOUT", "-np", "3", a.failures, mode], capture_output=True,
                           text=True, env=env, timeout=120)
        took = time.time() - t0
        print(r.stdout.strip())
        if expect_rc is not None:
            check(r.returncode == 0 and r.stdout.count(": ") >= 3 and "NOT AS EXPECTED" not in r.stdout,
                  f"{mode}: every rank stops with the expected error ({took:.1f} s)")
        else:
            check(r.returncode != 0 and took < 30 and "no answer from the other ranks for 2 s" in r.stdout,
                  f"hang: the others give up and the job ends ({took:.1f} s, rc {r.returncode})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--plexus", required=True)
    p.add_argument("--failures", required=True)
    p.add_argument("--mpirun", required=True, help="the mpirun command line, with its options")
    a = p.parse_args()
    a.mpirun = shlex.split(a.mpirun.replace(";", " "))
    a.root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        print("skipped: no Fashion-MNIST (dataset-fashion-mnist)")
        return 77
    with tempfile.TemporaryDirectory() as work:
        failing_ranks(a)
        csv_options(a, work)
        model_from_stdin(a, work)
        killed_and_resumed(a, work)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
