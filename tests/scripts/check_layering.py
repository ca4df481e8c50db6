#!/usr/bin/env python3
"""Fails when an #include points up Plexus's stack of floors.

The floors, lowest first, are the source folders below; a file may include
headers of its own floor or lower ones only. Public headers belong to the floor
that implements them (PUBLIC_FLOOR). docs/architecture.md shows the same table.
Usage: check_layering.py [REPO_ROOT]
"""
import os
import re
import sys

FLOORS = ["core", "formats", "data", "backend", "graph", "ops", "nn", "train",
          "model", "saving", "callbacks", "dist", "tune", "tools"]

# include/plexus/<name>.h -> the floor that implements it.
PUBLIC_FLOOR = {
    "export": "core", "version": "core", "status": "core", "tensor": "core", "rng": "core",
    "tensorboard": "formats", "data": "data", "source": "data", "backend": "backend",
    "graph": "graph", "ops": "ops", "activations": "ops", "nn": "nn", "mixed_precision": "nn", "optim": "train", "losses": "train",
    "metrics": "train", "model": "model", "callbacks": "callbacks",
    "model_io": "saving", "export_c": "saving", "dist": "dist", "tune": "tune",
    "plexus": "tools",
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def floor_of_path(rel):
    parts = rel.split("/")
    if parts[0] == "src":
        return parts[1]
    if parts[0] == "include":
        return PUBLIC_FLOOR.get(os.path.splitext(parts[-1])[0])
    if parts[0] == "tools":
        return "tools"
    return None


def floor_of_include(target):
    parts = target.split("/")
    if parts[0] == "plexus" and len(parts) == 2:
        return PUBLIC_FLOOR.get(os.path.splitext(parts[1])[0], "?" + target)
    if parts[0] in FLOORS and len(parts) >= 2:
        return parts[0]
    return None  # system headers and same-folder includes


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems = []
    for top in ("src", "include", "tools"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h", ".cu", ".inc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                own = floor_of_path(rel)
                if own is None:
                    problems.append(f"{rel}: header not in the floor table (add it to PUBLIC_FLOOR)")
                    continue
                if own not in FLOORS:
                    problems.append(f"{rel}: folder '{own}' is not a floor (add it to FLOORS)")
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if rel.startswith("include/plexus/") and "/" not in target:
                            target = "plexus/" + target
                        floor = floor_of_include(target)
                        if floor is None:
                            continue
                        if floor.startswith("?"):
                            problems.append(f"{rel}:{lineno}: {target} has no floor (add it to PUBLIC_FLOOR)")
                        elif FLOORS.index(floor) > FLOORS.index(own):
                            problems.append(f"{rel}:{lineno}: includes {target} ({floor}) from the "
                                            f"lower floor {own}")
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} include(s) point up the stack")
        return 1
    print("layering: every include points down the stack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
