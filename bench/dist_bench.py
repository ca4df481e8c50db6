#!/usr/bin/env python3
"""Data-parallel training benchmark: the course's MLP and ConvNet on
Fashion-MNIST with 1 and 2 ranks of 1 thread each (bench_dist under mpirun),
with the gradient all-reduce overlapped with the backward pass and not; the
time of one all-reduce per message size; and a model of 8 and 64 machines
from the measured step times and gradient sizes. Prints the markdown of
docs/performance.md's section on distributed training.

Usage: flock /work/wt/bench.lock bench/dist_bench.py [--bin-dir build] [--reps 3] [--quick]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"dist_bench: {' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def mpirun(np_, args, bin_dir):
    base = [shutil.which("mpirun") or "mpirun", "--allow-run-as-root", "--bind-to", "core", "--map-by", "core",
            "-x", "OMP_NUM_THREADS=1", "-np", str(np_), os.path.join(bin_dir, "bench", "bench_dist")]
    return run(base + args, dict(os.environ, OMP_NUM_THREADS="1"))


def ring_allreduce_s(n_bytes, p, alpha, beta, buckets):
    """Ring all-reduce: 2(p-1) latency steps per bucket, and each rank sends and
    receives 2(p-1)/p of the message."""
    return buckets * 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes / beta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer images (a smoke run)")
    a = ap.parse_args()
    settings = {"mlp": ("2", "55000"), "convnet": ("2", "20000")}
    if a.quick:
        settings = {"mlp": ("2", "5000"), "convnet": ("2", "2000")}
        a.reps = 1

    results = {}
    for model, (epochs, images) in settings.items():
        runs = {"1 rank": [], "2 ranks": [], "2 ranks, no overlap": []}
        for _ in range(a.reps):  # interleaved, so that a busy spell hits every setting alike
            runs["1 rank"] += mpirun(1, ["train", model, epochs, images], a.bin_dir)
            runs["2 ranks"] += mpirun(2, ["train", model, epochs, images], a.bin_dir)
            runs["2 ranks, no overlap"] += mpirun(2, ["train", model, epochs, images, "--no-overlap"], a.bin_dir)
        results[model] = {k: v for k, v in runs.items()}
    sweep = mpirun(2, ["allreduce"], a.bin_dir)

    def med(rs, key):
        return statistics.median(r[key] for r in rs)

    load = os.getloadavg()
    print(f"Machine load average while measuring: {load[0]:.1f} (1 min), {load[2]:.1f} (15 min); "
          f"{os.cpu_count()} cores. Medians of {a.reps} interleaved runs.\n")
    print("| model | setting | images/s | speedup | efficiency | CPU µs/image | CPU efficiency | step ms "
          "| all-reduce exposed ms/step | in backward ms/step | BN + logs ms/step | buckets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for model, runs in results.items():
        one, one_cpu = med(runs["1 rank"], "images_per_s"), med(runs["1 rank"], "cpu_us_per_image")
        for name, rs in runs.items():
            ips, cpu = med(rs, "images_per_s"), med(rs, "cpu_us_per_image")
            sp = ips / one
            ranks = rs[0]["ranks"]
            print(f"| {model} | {name} | {ips:.0f} | {sp:.2f}x | {100 * sp / ranks:.0f} % | {cpu:.1f} "
                  f"| {100 * one_cpu / cpu:.0f} % | {med(rs, 'step_ms'):.3f} | {med(rs, 'exposed_ms'):.3f} "
                  f"| {med(rs, 'inline_ms'):.3f} | {med(rs, 'stats_ms'):.3f} | {rs[0]['buckets']} |")
        ov, no = med(runs["2 ranks"], "exposed_ms"), med(runs["2 ranks, no overlap"], "exposed_ms")
        r2 = runs["2 ranks"][0]
        summary[model] = {"bytes": r2["gradient_bytes"], "last": r2["last_bucket_bytes"], "buckets": r2["buckets"],
                          "step1_ms": med(runs["1 rank"], "step_ms"), "batch": runs["1 rank"][0]["batch"],
                          "exposed_ov": ov, "exposed_no": no}
    print()
    for model, s in summary.items():
        hidden = max(0.0, 1 - s["exposed_ov"] / s["exposed_no"]) if s["exposed_no"] > 0 else 0.0
        print(f"- {model}: {s['bytes'] / 1e6:.2f} MB of gradients per step in {s['buckets']} buckets, the last "
              f"({s['last'] / 1e6:.2f} MB) started when the backward pass ends; waiting after the backward pass "
              f"{s['exposed_no']:.3f} ms/step without overlap, {s['exposed_ov']:.3f} ms with it "
              f"({100 * hidden:.0f} % less).")
    print("\nOne all-reduce between 2 ranks on this machine (shared memory):\n")
    print("| bytes | median µs |")
    print("|---|---|")
    for r in sweep:
        print(f"| {r['allreduce_bytes']} | {r['median_us']:.1f} |")

    # the model: weak scaling (each machine keeps the measured per-rank batch)
    nets = {"10 GbE (α 30 µs, β 1.1 GB/s)": (30e-6, 1.1e9), "100 Gb/s InfiniBand (α 3 µs, β 11 GB/s)": (3e-6, 11e9)}
    print("\nModel for 8 and 64 machines, one rank each at the measured one-rank step time and batch (weak "
          "scaling), a ring all-reduce per bucket. The exposed time lies between the last bucket's sum alone "
          "(the earlier buckets hidden behind the backward pass) and all of it (nothing hidden):\n")
    print("| model | network | machines | all-reduce ms/step | exposed ms/step | step ms | efficiency | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for model, s in summary.items():
        for net, (alpha, beta) in nets.items():
            for p in (8, 64):
                t = ring_allreduce_s(s["bytes"], p, alpha, beta, s["buckets"])
                low = ring_allreduce_s(s["last"], p, alpha, beta, 1)
                step = s["step1_ms"] / 1e3
                eff = [100 * step / (step + x) for x in (low, t)]
                ips = [p * s["batch"] / (step + x) for x in (t, low)]
                print(f"| {model} | {net} | {p} | {1e3 * t:.2f} | {1e3 * low:.2f} to {1e3 * t:.2f} "
                      f"| {1e3 * (step + low):.2f} to {1e3 * (step + t):.2f} | {eff[1]:.0f} to {eff[0]:.0f} % "
                      f"| {ips[0]:.0f} to {ips[1]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
