#!/usr/bin/python3
"""Plexus's benchmark suite, side by side with PyTorch and scikit-learn.

One command builds Plexus in release mode (build-bench/), installs the reference
systems if missing (scripts/setup.sh --bench), then runs every workload for
Plexus and for the references in the same run, alternating the sides, several
repetitions each, with 1 and 2 threads on each side, and writes into the out
dir (default bench/results/, git-ignored):
  results.md   the tables: medians, min-max spreads, ratios, best thread setting
  summary.csv  the same as rows
  raw.csv      every measurement (repetition, threads, load, peak memory)
  commands.txt every command run, with its environment
It prints the commands, the versions, the CPU and thread settings, and exits
non-zero as soon as any side fails (a missing reference is an error, not a gap).

Workloads (see docs/performance.md):
  mlp        the course's Fashion-MNIST MLP (784-300-100-10), one epoch:
             SGD/Adam x batch 32/256 (fashion_mlp, torch_fashion_mlp.py,
             sklearn_fashion_mlp.py): s/epoch, images/s, GFLOP/s, test accuracy
  accuracy   test accuracy after a fixed number of SGD epochs, each side
  roofline   the nine GEMMs of an MLP training step, BLAS called directly
             (bench_roofline): the floor a training epoch can reach
  xor        per-step overhead, 2-2-1 network, batch 4, 1,000 steps
             (bench_xor_steps, torch_micro.py xor)
  infer      MLP inference: images/s at batch 1 and 1,000, batch-1 latency
             (bench_infer, torch_micro.py infer)
  lstm       LSTM(128) on Fashion-MNIST rows (bench_lstm, torch_lstm.py)
  convnet    the course's ConvNet, batch 64, Adam (bench_convnet,
             torch_convnet.py) -- run when both programs exist
  bf16       mixed precision beside float32 on each side: the MLP at batch 256
             (SGD) and the ConvNet, Plexus's mixed_bfloat16 policy and PyTorch's
             torch.autocast("cpu", dtype=torch.bfloat16); the bf16/float32
             speedups of both -- skipped (with a note) where Plexus cannot run
             bf16, and left out of --smoke
Every run is wrapped in /usr/bin/time for its peak resident memory.

Usage: bench/run.py [--quick | --smoke] [--out DIR] [--reps N] [--threads 1,2]
                    [--bin-dir BUILD] [--no-setup] [--only mlp,xor,...]
  --quick   a tiny slice (5,000 images), one repetition: a few minutes
  --smoke   an even tinier slice (2,000 images), 1 thread, 1 rep (the test suite)
  --bin-dir use the programs of an existing build (BUILD/bench) instead of
            building build-bench/
Must run with Debian's /usr/bin/python3 (which has python3-torch/-sklearn)."""
import argparse, csv, datetime, os, platform, re, shlex, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PY = "/usr/bin/python3"
TIME = "/usr/bin/time"
MLP_FLOPS_PER_IMAGE = 2.0 * (784 * 300 + 300 * 100 + 100 * 10) * 2 + 2.0 * (300 * 100 + 100 * 10)  # fwd+dW+dX(2,3)
ALL = ["mlp", "accuracy", "roofline", "xor", "infer", "lstm", "convnet", "bf16"]

# name: (optimizer, batch, learning rate)
RECIPES = {"sgd b32": ("sgd", 32, 0.01), "adam b32": ("adam", 32, 0.001),
           "sgd b256": ("sgd", 256, 0.01), "adam b256": ("adam", 256, 0.001)}

LOWER, HIGHER, INFO = "lower", "higher", "info"


class BenchError(Exception):
    pass


def log(msg=""):
    print(msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


class Suite:
    def __init__(self, a):
        self.a = a
        self.rows = []       # raw measurements
        self.commands = []
        self.bin = None
        self.info = {}
        self.t_start = time.time()

    # ---- running one program ----
    def run(self, rep, workload, side, threads, cmd, env_threads):
        env = dict(os.environ)
        tenv = {k: str(env_threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        # a row's thread count is the count the program runs: Plexus's adaptive
        # policy would try fewer threads when it sees others runnable (its first
        # epoch at batch 32 then took 0.09 s against 0.055 s); bench/busy.py
        # measures that policy. An explicit setting in the environment wins.
        if "PLEXUS_THREAD_POLICY" not in os.environ:
            tenv["PLEXUS_THREAD_POLICY"] = "fixed"
        env.update(tenv)
        env.pop("PYTHONPATH", None)
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            full = [TIME, "-f", "%M %e", "-o", tf.name] + cmd
            shown = " ".join(f"{k}={v}" for k, v in tenv.items()) + " " + shlex.join(cmd)
            self.commands.append(shown)
            load = os.getloadavg()[0]
            log(f"  [{workload} | {side} | threads {threads} | rep {rep + 1} | load {load:.2f}] $ {shown}")
            try:
                p = subprocess.run(full, env=env, text=True, capture_output=True, cwd=ROOT, timeout=self.a.timeout)
            except subprocess.TimeoutExpired:
                raise BenchError(f"{side} timed out after {self.a.timeout} s: {shown}")
            if p.returncode != 0:
                raise BenchError(f"{side} failed (exit {p.returncode}): {shown}\n--- stdout\n{p.stdout[-3000:]}"
                                 f"\n--- stderr\n{p.stderr[-3000:]}")
            fields = tf.read().split()
            peak_kb = int(fields[-2]) if len(fields) >= 2 else 0
        return p.stdout, peak_kb, load

    def add(self, rep, workload, variant, side, threads, metric, value, better, peak_kb=0, load=0.0, unit=""):
        self.rows.append(dict(rep=rep, workload=workload, variant=variant, side=side, threads=str(threads),
                              metric=metric, unit=unit, better=better, value=value, peak_kb=peak_kb,
                              load=round(load, 2)))

    def need(self, pattern, out, what):
        ms = re.findall(pattern, out, re.M)
        if not ms:
            raise BenchError(f"{what}: no line matching {pattern!r} in its output:\n{out[-2000:]}")
        return ms

    # ---- workloads ----
    def mlp(self, rep):
        n = self.a.train
        for name, (opt, batch, lr) in self.recipes():
            for t in self.a.threads:
                args = ["--epochs", "1", "--batch", str(batch), "--lr", str(lr), "--optimizer", opt,
                        "--threads", str(t), "--train", str(n)]
                sides = [("plexus", [self.exe("fashion_mlp")] + args),
                         ("pytorch", [PY, f"{BENCH}/torch_fashion_mlp.py"] + args),
                         ("sklearn", [PY, f"{BENCH}/sklearn_fashion_mlp.py"] + args)]
                if rep % 2:  # alternate which side goes first
                    sides = sides[1:] + sides[:1]
                for side, cmd in sides:
                    out, peak, load = self.run(rep, "mlp", side, t, cmd, t)
                    (_, sec, acc), = [(m[0], float(m[1]), float(m[2])) for m in
                                      self.need(r"^epoch (\d+) seconds ([\d.]+).*test_accuracy ([\d.]+)", out, side)]
                    v = f"{name}, 1 epoch"
                    self.add(rep, "mlp", v, side, t, "s/epoch", sec, LOWER, peak, load)
                    self.add(rep, "mlp", v, side, t, "images/s", n / sec, HIGHER, peak, load)
                    self.add(rep, "mlp", v, side, t, "train GFLOP/s", MLP_FLOPS_PER_IMAGE * n / sec * 1e-9, HIGHER,
                             peak, load)
                    self.add(rep, "mlp", v, side, t, "test acc (1 epoch)", acc, INFO, peak, load)
                    self.add(rep, "mlp", v, side, t, "peak MB", peak / 1024, LOWER, peak, load)

    def accuracy(self, rep):
        if rep != 0:
            return
        e, n, t = self.a.acc_epochs, self.a.train, self.a.threads[0]
        args = ["--epochs", str(e), "--batch", "32", "--lr", "0.01", "--optimizer", "sgd", "--threads", str(t),
                "--train", str(n)]
        for side, cmd in (("plexus", [self.exe("fashion_mlp")] + args),
                          ("pytorch", [PY, f"{BENCH}/torch_fashion_mlp.py"] + args),
                          ("sklearn", [PY, f"{BENCH}/sklearn_fashion_mlp.py"] + args)):
            out, peak, load = self.run(rep, "accuracy", side, t, cmd, t)
            ms = self.need(r"^epoch (\d+) seconds ([\d.]+).*test_accuracy ([\d.]+)", out, side)
            if len(ms) != e:
                raise BenchError(f"{side}: expected {e} epochs, got {len(ms)}")
            v = f"sgd b32, {e} epochs"
            self.add(rep, "accuracy", v, side, t, "test accuracy", float(ms[-1][2]), INFO, peak, load)
            self.add(rep, "accuracy", v, side, t, "median s/epoch", statistics.median(float(m[1]) for m in ms), LOWER,
                     peak, load)

    def roofline(self, rep):
        for batch in sorted({b for _, (_, b, _) in self.recipes()}):
            for t in self.a.threads:
                cmd = [self.exe("bench_roofline"), "--batch", str(batch), "--threads", str(t),
                       "--images", str(self.a.train)]
                out, peak, load = self.run(rep, "roofline", "plexus", t, cmd, t)
                (s, g), = self.need(r"^blas_epoch_s ([\d.]+) gflops ([\d.]+)", out, "bench_roofline")
                (ps, pg), = self.need(r"^px_gemm_epoch_s ([\d.]+) gflops ([\d.]+)", out, "bench_roofline")
                v = f"MLP GEMMs b{batch}, 1 epoch"
                self.add(rep, "roofline", v, "blas", t, "s/epoch", float(s), LOWER, peak, load)
                self.add(rep, "roofline", v, "blas", t, "GFLOP/s", float(g), HIGHER, peak, load)
                self.add(rep, "roofline", v, "plexus", t, "s/epoch", float(ps), LOWER, peak, load)
                self.add(rep, "roofline", v, "plexus", t, "GFLOP/s", float(pg), HIGHER, peak, load)

    def xor(self, rep):
        for t in self.a.threads:
            args = ["--steps", str(self.a.xor_steps), "--reps", str(self.a.xor_reps), "--threads", str(t)]
            sides = [("plexus", [self.exe("bench_xor_steps")] + args),
                     ("pytorch", [PY, f"{BENCH}/torch_micro.py", "xor"] + args)]
            for side, cmd in (sides if rep % 2 == 0 else sides[::-1]):
                out, peak, load = self.run(rep, "xor", side, t, cmd, t)
                for path, med, lo, hi in self.need(r"^(graph|fit)_us_per_step ([\d.]+) ([\d.]+) ([\d.]+)", out, side):
                    variants = [path] if side == "plexus" else ["graph", "fit"]  # torch's loop is the reference for both
                    for p in variants:
                        v = ("session step" if p == "graph" else "fit() step") + f", {self.a.xor_steps} steps"
                        self.add(rep, "xor", v, side, t, "us/step", float(med), LOWER, peak, load)
                self.add(rep, "xor", "process", side, t, "peak MB", peak / 1024, LOWER, peak, load)

    def infer(self, rep):
        for t in self.a.threads:
            args = ["--images", str(self.a.infer_images), "--reps", str(self.a.infer_reps), "--threads", str(t)]
            sides = [("plexus", [self.exe("bench_infer")] + args),
                     ("pytorch", [PY, f"{BENCH}/torch_micro.py", "infer"] + args)]
            for side, cmd in (sides if rep % 2 == 0 else sides[::-1]):
                out, peak, load = self.run(rep, "infer", side, t, cmd, t)
                (b1,), (b1000,) = (self.need(rf"^batch{b}_images_per_s ([\d.]+)", out, side) for b in (1, 1000))
                (lat, p99), = self.need(r"^latency_us ([\d.]+) ([\d.]+)", out, side)
                self.add(rep, "infer", "MLP batch 1", side, t, "images/s", float(b1), HIGHER, peak, load)
                self.add(rep, "infer", "MLP batch 1000", side, t, "images/s", float(b1000), HIGHER, peak, load)
                self.add(rep, "infer", "MLP batch 1 latency", side, t, "median us", float(lat), LOWER, peak, load)
                self.add(rep, "infer", "MLP batch 1 latency", side, t, "p99 us", float(p99), LOWER, peak, load)
                self.add(rep, "infer", "process", side, t, "peak MB", peak / 1024, LOWER, peak, load)

    def lstm(self, rep):
        n = self.a.lstm_images
        for t in self.a.threads:
            args = ["--epochs", "1", "--train", str(n), "--threads", str(t)]
            sides = [("plexus", [self.exe("bench_lstm")] + args),
                     ("pytorch", [PY, f"{BENCH}/torch_lstm.py"] + args)]
            for side, cmd in (sides if rep % 2 == 0 else sides[::-1]):
                out, peak, load = self.run(rep, "lstm", side, t, cmd, t)
                (_, sec, acc), = self.need(r"^epoch (\d+) seconds ([\d.]+) test_accuracy ([\d.]+)", out, side)
                v = f"LSTM(128) b64 adam, {n} images"
                self.add(rep, "lstm", v, side, t, "s/epoch", float(sec), LOWER, peak, load)
                self.add(rep, "lstm", v, side, t, "test acc (1 epoch)", float(acc), INFO, peak, load)
                self.add(rep, "lstm", v, side, t, "peak MB", peak / 1024, LOWER, peak, load)

    def convnet(self, rep):
        # bench_convnet [epochs] [images] [threads (0: 1 and 2)]; torch_convnet.py [epochs] [images] always
        # runs 1 then 2 threads in one process, so both sides run their thread settings in one process.
        n = self.a.convnet_images
        both = self.a.threads == [1, 2]
        sides = [("plexus", [self.exe("bench_convnet"), "1", str(n)] + ([] if both else [str(self.a.threads[0])])),
                 ("pytorch", [PY, f"{BENCH}/torch_convnet.py", "1", str(n)])]
        for side, cmd in (sides if rep % 2 == 0 else sides[::-1]):
            out, peak, load = self.run(rep, "convnet", side, "1,2", cmd, 2)
            for _, t, sec in self.need(r"^(plexus|torch)\s+threads (\d+): ([\d.]+) s/epoch", out, side):
                if int(t) in self.a.threads:
                    self.add(rep, "convnet", f"ConvNet b64 adam, {n} images", side, int(t), "s/epoch", float(sec),
                             LOWER, peak, load)
            self.add(rep, "convnet", "process (1 and 2 threads)", side, "1,2", "peak MB", peak / 1024, LOWER, peak,
                     load)

    def bf16(self, rep):
        # each side in float32 and in bf16, in the same run; variants named alike on both sides
        n = self.a.train
        runs = []
        for t in self.a.threads:
            args = ["--epochs", "1", "--batch", "256", "--lr", "0.01", "--optimizer", "sgd", "--threads", str(t),
                    "--train", str(n)]
            runs += [("mlp", t, "plexus", "float32", [self.exe("fashion_mlp")] + args),
                     ("mlp", t, "plexus", "bf16", [self.exe("fashion_mlp")] + args + ["--dtype-policy",
                                                                                      "mixed_bfloat16"]),
                     ("mlp", t, "pytorch", "float32", [PY, f"{BENCH}/torch_fashion_mlp.py"] + args),
                     ("mlp", t, "pytorch", "bf16", [PY, f"{BENCH}/torch_fashion_mlp.py"] + args + ["--autocast-bf16"])]
        nc = self.a.convnet_images
        only = "0" if self.a.threads == [1, 2] else str(self.a.threads[0])
        runs += [("convnet", "1,2", "plexus", "float32", [self.exe("bench_convnet"), "1", str(nc), only, "float32"]),
                 ("convnet", "1,2", "plexus", "bf16", [self.exe("bench_convnet"), "1", str(nc), only,
                                                       "mixed_bfloat16"]),
                 ("convnet", "1,2", "pytorch", "float32", [PY, f"{BENCH}/torch_convnet.py", "1", str(nc)]),
                 ("convnet", "1,2", "pytorch", "bf16", [PY, f"{BENCH}/torch_convnet.py", "1", str(nc), "bf16"])]
        if rep % 2:
            runs = runs[::-1]
        for kind, t, side, prec, cmd in runs:
            try:
                out, peak, load = self.run(rep, "bf16", side, t, cmd, 2 if kind == "convnet" else t)
            except BenchError as e:
                if side == "plexus" and "cannot run here" in str(e):
                    log("note: Plexus cannot run mixed_bfloat16 on this machine: bf16 workload skipped")
                    return
                raise
            if kind == "mlp":
                (sec, acc), = [(float(m[1]), float(m[2])) for m in
                               self.need(r"^epoch (\d+) seconds ([\d.]+).*test_accuracy ([\d.]+)", out, side)]
                v = f"MLP sgd b256, {prec}"
                self.add(rep, "bf16", v, side, t, "s/epoch", sec, LOWER, peak, load)
                self.add(rep, "bf16", v, side, t, "test acc (1 epoch)", acc, INFO, peak, load)
            else:
                for _, th, sec in self.need(r"^(plexus|torch)\s+threads (\d+): ([\d.]+) s/epoch", out, side):
                    if int(th) in self.a.threads:
                        self.add(rep, "bf16", f"ConvNet b64 adam, {nc} images, {prec}", side, int(th), "s/epoch",
                                 float(sec), LOWER, peak, load)

    # ---- helpers ----
    def recipes(self):
        return [(k, v) for k, v in RECIPES.items() if k in self.a.recipes]

    def exe(self, name):
        p = os.path.join(self.bin, "bench", name)
        if not os.access(p, os.X_OK):
            raise BenchError(f"{p} is missing: build failed or the program was not built")
        return p


# ---------------------------------------------------------------- setup, build, info
def setup_and_build(s):
    a = s.a
    if not a.no_setup:
        log(f"$ {ROOT}/scripts/setup.sh --bench")
        r = subprocess.run([f"{ROOT}/scripts/setup.sh", "--bench"], cwd=ROOT)
        if r.returncode != 0:
            raise BenchError("scripts/setup.sh --bench failed: the reference systems cannot be installed")
    for tool in (TIME,):
        if not os.access(tool, os.X_OK):
            raise BenchError(f"{tool} is missing (Debian package 'time')")
    probe = subprocess.run([PY, "-c", "import torch, sklearn, numpy, threadpoolctl"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise BenchError(f"the references cannot run under {PY}:\n{probe.stderr}")
    if a.bin_dir:
        s.bin = os.path.abspath(a.bin_dir)
        return
    s.bin = os.path.join(ROOT, "build-bench")
    cfg = ["cmake", "-S", ROOT, "-B", s.bin, "-DCMAKE_BUILD_TYPE=Release", "-DPX_BUILD_TESTS=OFF",
           "-DPX_BUILD_EXAMPLES=OFF", "-DPX_BUILD_BENCH=ON"]
    targets = ["fashion_mlp", "bench_roofline", "bench_xor_steps", "bench_infer", "bench_lstm"]
    if "convnet" in a.only:
        targets.append("bench_convnet")
    build = ["cmake", "--build", s.bin, "-j", str(os.cpu_count() or 2), "--target"] + targets
    for cmd in (cfg, build):
        log("$ " + shlex.join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")


def collect_info(s):
    info = s.info
    info["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = f"{cpu}, {os.cpu_count()} logical CPUs"
    info["os"] = platform.platform()
    info["load at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    v = sh([PY, "-c", "import torch, sklearn, numpy, threadpoolctl as t; import json;"
            "cfg = torch.__config__.show();"
            "blas = [l.strip() for l in cfg.splitlines() if 'BLAS' in l or 'MKL' in l or 'LAPACK' in l];"
            "libs = sorted({d['internal_api'] + ' ' + d['version'] + ' ' + str(d.get('architecture'))"
            " for d in t.threadpool_info() if d.get('user_api') == 'blas'});"
            "print(json.dumps([torch.__version__, sklearn.__version__, numpy.__version__, blas, libs]))"])
    import json
    tv, skv, npv, tblas, nblas = json.loads(v.strip().splitlines()[-1])
    info["PyTorch"] = f"{tv} ({'; '.join(tblas)[:300] or 'BLAS: see torch.__config__.show()'})"
    info["scikit-learn"] = f"{skv}, numpy {npv}, numpy's BLAS: {', '.join(nblas) or '?'}"
    info["python"] = f"{PY} {platform.python_version()}"
    cc = "?"
    cache = os.path.join(s.bin, "CMakeCache.txt")
    if os.path.exists(cache):
        m = re.search(r"^CMAKE_C_COMPILER:\w+=(.*)$", open(cache).read(), re.M)
        if m:
            cc = m.group(1)
    try:
        cc += " (" + sh([cc if cc != "?" else "cc", "--version"]).splitlines()[0] + ")"
    except (OSError, subprocess.CalledProcessError):
        pass
    info["compiler"] = cc + ", -O3 (CMAKE_BUILD_TYPE=Release)"
    out = sh([s.exe("bench_xor_steps"), "--steps", "1", "--reps", "1"])
    m = re.search(r"blas (\S+) \(([^)]*)\)", out)
    info["Plexus BLAS"] = f"px_blas_name() = {m.group(1)}, px_blas_kernel() = {m.group(2)}" if m else "?"
    info["threads"] = (f"{', '.join(map(str, s.a.threads))} per side: Plexus --threads T (px_set_num_threads) and "
                       "OMP_NUM_THREADS=T; PyTorch torch.set_num_threads(T); scikit-learn threadpoolctl limit T; "
                       "every process also gets OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=T "
                       f"and PLEXUS_THREAD_POLICY={os.environ.get('PLEXUS_THREAD_POLICY', 'fixed')}")
    info["mode"] = (f"{s.a.mode}: {s.a.reps} repetition(s), {s.a.train} training images, accuracy after "
                    f"{s.a.acc_epochs} epoch(s), XOR {s.a.xor_steps} steps x {s.a.xor_reps}, inference on "
                    f"{s.a.infer_images} test images, LSTM {s.a.lstm_images} images, ConvNet {s.a.convnet_images}")
    for k, v in info.items():
        log(f"{k:>14}: {v}")


# ---------------------------------------------------------------- summary
def spread(vals):
    return f"{statistics.median(vals):.4g} ({min(vals):.4g}–{max(vals):.4g})" if len(vals) > 1 else f"{vals[0]:.4g}"


def summarize(s):
    groups = {}
    for r in s.rows:
        key = (r["workload"], r["variant"], r["metric"])
        g = groups.setdefault(key, {"better": r["better"], "sides": {}})
        g["sides"].setdefault(r["side"], {}).setdefault(r["threads"], []).append(r["value"])
    out = []
    for (w, v, m), g in groups.items():
        sides = g["sides"]
        plex = "plexus" if "plexus" in sides else None
        refs = [x for x in sides if x != plex and not (w == "roofline" and x == "plexus")]
        if w == "roofline":
            plex, refs = "plexus", ["blas"]

        def best(side):
            th = {t: vals for t, vals in sides.get(side, {}).items() if t.isdigit()}
            if len(th) < 2 or g["better"] == INFO:
                return None
            pick = (min if g["better"] == LOWER else max)(th, key=lambda t: statistics.median(th[t]))
            return pick, th[pick]

        threads = sorted({t for sd in sides.values() for t in sd})
        for ref in refs or [None]:
            rows = [(t, sides.get(plex, {}).get(t), sides.get(ref, {}).get(t) if ref else None, t, t) for t in threads]
            bp, br = best(plex), best(ref) if ref else None
            if bp and (br or not ref):
                rows.append(("best", bp[1], br[1] if br else None, bp[0], br[0] if br else ""))
            for t, pv, rv, pt, rt in rows:
                pm = statistics.median(pv) if pv else None
                rm = statistics.median(rv) if rv else None
                ratio = ""
                if pm and rm and g["better"] != INFO:
                    ratio = rm / pm if g["better"] == LOWER else pm / rm
                out.append(dict(workload=w, variant=v, metric=m, threads=t, plexus_threads=pt,
                                plexus_median=pm, plexus_min=min(pv) if pv else None, plexus_max=max(pv) if pv else None,
                                plexus_n=len(pv) if pv else 0, reference=ref or "", reference_threads=rt if ref else "",
                                reference_median=rm, reference_min=min(rv) if rv else None,
                                reference_max=max(rv) if rv else None, reference_n=len(rv) if rv else 0,
                                ratio=ratio, better=g["better"],
                                plexus_cell=spread(pv) if pv else "—", reference_cell=spread(rv) if rv else "—"))
    return out


GOALS = [  # (label, workload, variant prefix, metric, goal, better, others)
    ("MLP SGD b32 s/epoch", "mlp", "sgd b32", "s/epoch", 0.7, LOWER, "PyTorch 1.47, KANN 1.03"),
    ("MLP SGD b256 s/epoch", "mlp", "sgd b256", "s/epoch", 0.4, LOWER, "PyTorch 0.67, KANN 0.58"),
    ("MLP Adam b32 s/epoch", "mlp", "adam b32", "s/epoch", 0.85, LOWER, "PyTorch 3.47, KANN 1.29"),
    ("ConvNet s/epoch", "convnet", "ConvNet b64 adam", "s/epoch", 1.7, LOWER, "PyTorch 3.43"),
    ("per-step overhead us", "xor", "session step", "us/step", 0.5, LOWER, "PyTorch 126, KANN 1.0, genann 0.5"),
    ("inference b1 images/s", "infer", "MLP batch 1", "images/s", 80000, HIGHER, "PyTorch 29,600, KANN 52,000"),
    ("inference b1000 images/s", "infer", "MLP batch 1000", "images/s", 400000, HIGHER,
     "PyTorch 350,000, KANN 283,000"),
    ("peak memory MB (MLP SGD b32)", "mlp", "sgd b32", "peak MB", 150, LOWER, "PyTorch 790, KANN 220"),
]


def mlp_table(title, rs, summary):
    """The MLP rows compactly: one line per recipe and thread setting, both references side by side."""
    def cell(variant, metric, threads, ref, what):
        for r in rs:
            if r["variant"] == variant and r["metric"] == metric and r["threads"] == threads and r["reference"] == ref:
                return r
        return None

    def roof(batch, threads):
        for r in summary:
            if (r["workload"] == "roofline" and r["variant"].startswith(f"MLP GEMMs b{batch},") and
                    r["metric"] == "s/epoch" and r["threads"] == threads):
                return r
        return None

    out = [f"## {title}", "",
           "s/epoch: median (min–max); ratio = reference s / Plexus s (> 1: Plexus faster). GEMM floor: the same "
           "epoch's nine matrix products alone, BLAS called directly (bench_roofline), and the GFLOP/s it "
           "reaches; Plexus GFLOP/s counts the same products. Memory: peak resident MB of the process.", "",
           "| recipe | threads | Plexus s/epoch | Plexus images/s | Plexus GFLOP/s | GEMM floor s (GFLOP/s) | "
           "PyTorch s/epoch | ratio | sklearn s/epoch | ratio | peak MB Plexus / PyTorch / sklearn | "
           "test acc Plexus / PyTorch / sklearn |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    variants = list(dict.fromkeys(r["variant"] for r in rs))
    for v in variants:
        batch = re.search(r"b(\d+)", v).group(1)
        for t in list(dict.fromkeys(r["threads"] for r in rs if r["variant"] == v)):
            pt, st = cell(v, "s/epoch", t, "pytorch", ""), cell(v, "s/epoch", t, "sklearn", "")
            base = pt or st
            if not base:
                continue
            ips = cell(v, "images/s", t, base["reference"], "")
            gf = cell(v, "train GFLOP/s", t, base["reference"], "")
            th = t if t != "best" else "best (P/T/S: %s/%s/%s)" % (
                base["plexus_threads"], pt["reference_threads"] if pt else "-", st["reference_threads"] if st else "-")
            rf = roof(batch, base["plexus_threads"] if t == "best" else t)
            rg = None
            if rf:
                rg = next((r for r in summary if r["workload"] == "roofline" and r["variant"] == rf["variant"]
                           and r["metric"] == "GFLOP/s" and r["threads"] == rf["threads"]), None)
            mem = [cell(v, "peak MB", t if t != "best" else "1", ref, "") for ref in ("pytorch", "sklearn")]
            acc = [cell(v, "test acc (1 epoch)", t if t != "best" else "1", ref, "") for ref in ("pytorch", "sklearn")]
            f = lambda r, k: f"{r[k]:.4g}" if r and r[k] is not None else "—"  # noqa: E731
            out.append(" | ".join([
                f"| {v.split(',')[0]}", th, base["plexus_cell"], f(ips, "plexus_median"), f(gf, "plexus_median"),
                f"{rf['reference_median']:.3g} ({rg['reference_median']:.0f})" if rf and rg else "—",
                pt["reference_cell"] if pt else "—", f"{pt['ratio']:.2f}" if pt and pt["ratio"] != "" else "",
                st["reference_cell"] if st else "—", f"{st['ratio']:.2f}" if st and st["ratio"] != "" else "",
                f"{f(mem[0], 'plexus_median')} / {f(mem[0], 'reference_median')} / {f(mem[1], 'reference_median')}",
                f"{f(acc[0], 'plexus_median')} / {f(acc[0], 'reference_median')} / {f(acc[1], 'reference_median')}"])
                + " |")
    return out + [""]


def write_outputs(s, summary):
    a = s.a
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "raw.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(s.rows[0].keys()))
        w.writeheader()
        w.writerows(s.rows)
    cols = [k for k in summary[0] if not k.endswith("_cell")]
    with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(summary)
    with open(os.path.join(a.out, "commands.txt"), "w") as f:
        f.write("\n".join(dict.fromkeys(s.commands)) + "\n")
    loads = [r["load"] for r in s.rows]
    lines = [f"# Plexus benchmark suite — {s.info['date']}", ""]
    lines += [f"- **{k}**: {v}" for k, v in s.info.items() if k != "date"]
    lines += [f"- **load** (1-min average before each run): median {statistics.median(loads):.2f}, "
              f"max {max(loads):.2f}; total time {(time.time() - s.t_start) / 60:.1f} min", "",
              "Cells: median (min–max) over the repetitions. *ratio*: how many times faster (or smaller) Plexus "
              "is than the reference (reference/Plexus for times and memory, Plexus/reference for rates); "
              "> 1 means Plexus is ahead. *best*: each side at its own fastest thread setting (shown as P/R).", ""]
    by_w = {}
    for r in summary:
        by_w.setdefault(r["workload"], []).append(r)
    titles = {"mlp": f"Fashion-MNIST MLP 784-300-100-10, one epoch of {a.train} images",
              "accuracy": "Accuracy parity (SGD lr 0.01, batch 32)",
              "roofline": "GEMM roofline of an MLP training epoch (the nine products, BLAS called directly)",
              "xor": "Per-step overhead: 2-2-1 network on XOR, batch 4 (PyTorch's loop is the reference for both "
                     "Plexus paths)",
              "infer": f"MLP inference over {a.infer_images} test images",
              "lstm": "LSTM(128) on Fashion-MNIST rows, one epoch",
              "convnet": "ConvNet (course), one epoch",
              "bf16": "Mixed precision: bf16 (Plexus mixed_bfloat16, PyTorch bf16 autocast) beside float32"}
    for wname, rs in by_w.items():
        if wname == "mlp":
            lines += mlp_table(titles["mlp"], rs, summary)
            continue
        lines += [f"## {titles.get(wname, wname)}", "",
                  "| variant | metric | threads | Plexus | reference | reference value | ratio |",
                  "|---|---|---|---:|---|---:|---:|"]
        for r in rs:
            th = r["threads"] if r["threads"] != "best" else f"best ({r['plexus_threads']}/{r['reference_threads']})"
            ratio = f"{r['ratio']:.2f}" if r["ratio"] != "" else ""
            lines.append(f"| {r['variant']} | {r['metric']} | {th} | {r['plexus_cell']} | {r['reference']} | "
                         f"{r['reference_cell']} | {ratio} |")
        lines.append("")
        if wname == "bf16":
            lines += bf16_speedups(rs)
    lines += ["## Goals (the fastest systems measured: PyTorch 1.13 at its best thread setting, KANN with OpenBLAS "
              "SkylakeX, genann)", "", "| goal | target | Plexus (best threads) | met | others |",
              "|---|---:|---:|---|---|"]
    for label, w, vp, m, goal, better, others in GOALS:
        cand = [r for r in summary if r["workload"] == w and r["metric"] == m and r["plexus_median"] is not None
                and (r["variant"] == vp or r["variant"].startswith(vp + ","))]
        if not cand:
            lines.append(f"| {label} | {goal:g} | not measured | | {others} |")
            continue
        pick = (min if better == LOWER else max)(r["plexus_median"] for r in cand)
        note = ""
        n = a.train if w == "mlp" else a.convnet_images if w == "convnet" else 55000
        if m == "s/epoch" and n != 55000:  # the goals are for full epochs of 55,000 images
            pick *= 55000 / n
            note = f" (scaled from {n} images)"
        ok = pick < goal if better == LOWER else pick > goal
        lines.append(f"| {label} | {goal:g} | {pick:.4g}{note} | {'yes' if ok else 'no'} | {others} |")
    lines.append("")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines))
    return "\n".join(lines)


def bf16_speedups(rs):
    """float32 time / bf16 time for each side, workload and thread setting (the same run)."""
    lines = ["| workload | threads | Plexus bf16 speedup | PyTorch bf16 speedup |", "|---|---|---:|---:|"]
    for r in rs:
        if r["metric"] != "s/epoch" or not r["variant"].endswith(", float32"):
            continue
        base = r["variant"][:-len(", float32")]
        twin = [x for x in rs if x["variant"] == base + ", bf16" and x["threads"] == r["threads"]
                and x["metric"] == "s/epoch"]
        if not twin:
            continue
        b = twin[0]
        ps = f"{r['plexus_median'] / b['plexus_median']:.2f}" if r["plexus_median"] and b["plexus_median"] else "—"
        ts = (f"{r['reference_median'] / b['reference_median']:.2f}"
              if r["reference_median"] and b["reference_median"] else "—")
        lines.append(f"| {base} | {r['threads']} | {ps} | {ts} |")
    return lines + [""]


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"))
    ap.add_argument("--reps", type=int)
    ap.add_argument("--threads", help="comma-separated thread counts (default 1,2; --smoke: 1)")
    ap.add_argument("--bin-dir", help="an existing build whose bench/ programs to use (no build)")
    ap.add_argument("--no-setup", action="store_true", help="do not run scripts/setup.sh --bench")
    ap.add_argument("--only", help="comma-separated workloads: " + ",".join(ALL))
    ap.add_argument("--timeout", type=int, default=900, help="seconds one program may run")
    a = ap.parse_args()
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    p = {"full": dict(reps=3, train=55000, acc_epochs=5, xor_steps=1000, xor_reps=7, infer_images=10000,
                      infer_reps=5, lstm_images=10000, convnet_images=55000, threads=[1, 2], recipes=list(RECIPES)),
         "quick": dict(reps=1, train=5000, acc_epochs=2, xor_steps=1000, xor_reps=5, infer_images=2000,
                       infer_reps=3, lstm_images=2000, convnet_images=5000, threads=[1, 2], recipes=list(RECIPES)),
         "smoke": dict(reps=1, train=2000, acc_epochs=1, xor_steps=1000, xor_reps=3, infer_images=500,
                       infer_reps=2, lstm_images=640, convnet_images=640, threads=[1],
                       recipes=["sgd b32", "adam b256"])}[a.mode]
    for k, v in p.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if isinstance(a.threads, str):
        a.threads = [int(x) for x in a.threads.split(",")]
    # the smoke run (the test suite) leaves out bf16: it needs a processor with bf16
    a.only = a.only.split(",") if a.only else [w for w in ALL if not (a.mode == "smoke" and w == "bf16")]
    a.out = os.path.abspath(a.out)
    bad = [w for w in a.only if w not in ALL]
    if bad:
        ap.error(f"unknown workload(s) {bad}")
    s = Suite(a)
    try:
        if os.path.realpath(sys.executable) != os.path.realpath(PY):
            log(f"note: running under {sys.executable}; the references run under {PY}")
        setup_and_build(s)
        has_convnet = all(os.path.exists(os.path.join(BENCH, f)) for f in ("bench_convnet.c", "torch_convnet.py"))
        if "convnet" in a.only and not has_convnet:
            # Hook: once bench/bench_convnet.c and bench/torch_convnet.py exist, this workload runs.
            log("note: bench/bench_convnet.c or bench/torch_convnet.py is missing: ConvNet workload skipped")
            a.only.remove("convnet")
        collect_info(s)
        for rep in range(a.reps):
            log(f"== repetition {rep + 1}/{a.reps} ==")
            for w in ALL:
                if w in a.only:
                    getattr(s, w)(rep)
        summary = summarize(s)
        md = write_outputs(s, summary)
    except BenchError as e:
        print(f"\nbench/run.py: FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    log("")
    log(md)
    log(f"written: {a.out}/results.md, summary.csv, raw.csv, commands.txt "
        f"({(time.time() - s.t_start) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
