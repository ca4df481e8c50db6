#!/usr/bin/python3
"""Training on a busy machine: the course's Fashion-MNIST MLP epoch (SGD, batch 32)
at 1 and 2 threads (Plexus: 1 thread, 2 with PLEXUS_THREAD_POLICY=fixed, and 2
under the default adaptive policy, whose goal is to come within 1.1x of the
better fixed setting), alone and beside 1 and 2 CPU-bound competing processes that
this script starts, for Plexus (bench/fashion_mlp) and PyTorch
(bench/torch_fashion_mlp.py) measured the same way in the same run. Every process
(the run and its competitors) is pinned with taskset to the same cores (default
0,1), so the competition is controlled even on a many-core machine.

Not a test: run it by hand, under the benchmark lock, and read the table:

    flock /work/wt/bench.lock bench/busy.py [--build build] [--train 20000] [--reps 3]
          [--cores 0,1] [--env NAME=VALUE ...] [--sides plexus,pytorch]

--env sets a variable for the measured processes only (to try another wait
policy: OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=N). Each cell is the median over
the repetitions of an epoch's seconds (the second epoch of each process: the
first one warms caches and thread pools); the load average before and after is
printed, as other work on the machine shows there. Figures and the policies
compared: docs/performance.md, "Threads on a busy machine".
"""
import argparse, os, re, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def start_competitors(n, cores):
    # plain CPU-bound loops, pinned to the same cores as the measured run
    return [subprocess.Popen(["taskset", "-c", cores, "/usr/bin/python3", "-c", "while True: pass"]) for _ in range(n)]


def stop(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def epoch_seconds(cmd, env, cores):
    out = subprocess.run(["taskset", "-c", cores] + cmd, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        sys.exit(f"busy.py: {' '.join(cmd)} failed: {out.stderr.strip()}")
    secs = [float(m.group(1)) for m in re.finditer(r"epoch \d+ seconds ([0-9.]+)", out.stdout)]
    return secs[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--train", type=int, default=20000, help="training images per epoch (55000: the course's)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cores", default="0,1")
    ap.add_argument("--competitors", default="0,1,2")
    ap.add_argument("--sides", default="plexus,pytorch")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the measured processes")
    a = ap.parse_args()
    env = dict(os.environ)
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    args = ["--epochs", "2", "--batch", "32", "--lr", "0.01", "--train", str(a.train)]
    sides = {"plexus": [os.path.join(a.build, "bench", "fashion_mlp")] + args,
             "pytorch": ["/usr/bin/python3", os.path.join(HERE, "torch_fashion_mlp.py")] + args}
    # (label, threads, extra environment): Plexus's default policy beside both fixed counts
    settings = {"plexus": [("1 thread", 1, {}), ("2 fixed", 2, {"PLEXUS_THREAD_POLICY": "fixed"}),
                           ("2 default", 2, {})],
                "pytorch": [("1 thread", 1, {}), ("2 threads", 2, {})]}
    print(f"cores {a.cores}, {a.train} images per epoch, {a.reps} repetitions, env {' '.join(a.env) or '-'}")
    print(f"load average before: {loadavg()}")
    rows = []
    for comp in [int(c) for c in a.competitors.split(",")]:
        for side in a.sides.split(","):
            times = {label: [] for label, _, _ in settings[side]}
            procs = start_competitors(comp, a.cores)
            try:
                time.sleep(0.2)
                for _ in range(a.reps):
                    for label, t, extra in settings[side]:  # interleaved, so slow drifts of the load hit all
                        e = dict(env, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
                        e.update(extra)
                        times[label].append(epoch_seconds(sides[side] + ["--threads", str(t)], e, a.cores))
            finally:
                stop(procs)
            med = {label: statistics.median(v) for label, v in times.items()}
            best = min(v for label, v in med.items() if label != "2 default")
            last = settings[side][-1][0]
            rows.append((comp, side, med, times, med[last] / best))
            cells = "  ".join(f"{label} {med[label]:7.3f} s ({min(v):.3f}-{max(v):.3f})" for label, v in times.items())
            print(f"competitors {comp} {side:8s} {cells}  {last} / best fixed {med[last] / best:5.2f}", flush=True)
    print(f"load average after: {loadavg()}")
    print("\n| competitors | side | setting | s/epoch (min-max) | / best fixed setting |")
    print("|---|---|---|---|---|")
    for comp, side, med, times, _ in rows:
        best = min(v for label, v in med.items() if label != "2 default")
        for label, v in times.items():
            print(f"| {comp} | {side} | {label} | {med[label]:.3f} ({min(v):.3f}-{max(v):.3f}) | {med[label] / best:.2f} |")


if __name__ == "__main__":
    main()
