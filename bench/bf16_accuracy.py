#!/usr/bin/python3
"""Accuracy parity of mixed_bfloat16 with float32: the course's MLP (SGD 0.01, batch 32)
and ConvNet (Adam, batch 64) trained under both policies over the same epochs and
seeds, each evaluated on all 10,000 test images; prints a Markdown table (the one in
docs/mixed-precision.md) and fails when a model's mean bf16 accuracy is more than
0.3 percentage points from its float32 mean.
Usage: bench/bf16_accuracy.py [--bin-dir BUILD] [--epochs-mlp N] [--epochs-convnet N] [--seeds 1,2,3]
                              [--images N]"""
import argparse, os, re, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--epochs-mlp", type=int, default=5)
    ap.add_argument("--epochs-convnet", type=int, default=3)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--images", type=int, default=55000)
    a = ap.parse_args()
    exe = os.path.join(a.bin_dir, "bench", "mixed_accuracy")
    seeds = a.seeds.split(",")
    rows, ok = [], True
    for model, epochs in (("mlp", a.epochs_mlp), ("convnet", a.epochs_convnet)):
        acc = {}
        for policy in ("float32", "mixed_bfloat16"):
            for s in seeds:
                out = subprocess.run([exe, model, policy, s, str(epochs), str(a.images)], check=True, text=True,
                                     capture_output=True).stdout
                acc.setdefault(policy, []).append(float(re.search(r"test accuracy ([\d.]+)", out).group(1)))
                print(out.strip(), flush=True)
        f, b = statistics.mean(acc["float32"]), statistics.mean(acc["mixed_bfloat16"])
        diff = 100 * (b - f)
        ok = ok and abs(diff) <= 0.3
        cells = lambda p: ", ".join(f"{100 * x:.2f}" for x in acc[p])
        rows.append(f"| {model} | {epochs} | {cells('float32')} | {100 * f:.2f} | {cells('mixed_bfloat16')} | "
                    f"{100 * b:.2f} | {diff:+.2f} |")
    print(f"\n| model | epochs | float32 test accuracy % (seeds {a.seeds}) | mean | mixed_bfloat16 | mean | "
          "difference (pp) |\n|---|---:|---|---:|---|---:|---:|")
    print("\n".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
