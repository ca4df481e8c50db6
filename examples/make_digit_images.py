#!/usr/bin/env python3
"""Writes the 8x8 digits of scikit-learn's digits data (tests/data/digits.csv.gz:
64 pixel values 0..16, then the label) as a folder of PNG images, one subfolder
per class, the layout Keras's image_dataset_from_directory and Plexus's
px_source_image_dir read:  OUT/0/0000.png, OUT/0/0010.png, ..., OUT/9/....

Pixels are scaled to 0..255 (v * 255 / 16, rounded). Only the standard library
is used (the PNG encoder is a few lines of zlib and struct).

Usage: make_digit_images.py DIGITS.csv.gz OUT [--limit N]"""
import argparse
import csv
import gzip
import os
import struct
import zlib


def png_gray(width, height, rows):
    """A grayscale 8-bit PNG of `rows` (lists of 0..255)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("digits")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=0, help="write only the first N digits")
    a = ap.parse_args()
    counts = {}
    with gzip.open(a.digits, "rt") as f:
        for n, row in enumerate(csv.reader(f)):
            if a.limit and n >= a.limit:
                break
            values, label = [int(float(v)) for v in row[:64]], int(float(row[64]))
            pixels = [(v * 255 + 8) // 16 for v in values]
            folder = os.path.join(a.out, str(label))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "%04d.png" % n), "wb") as out:
                out.write(png_gray(8, 8, [pixels[r * 8:(r + 1) * 8] for r in range(8)]))
            counts[label] = counts.get(label, 0) + 1
    print("wrote %d images in %d class folders under %s" % (sum(counts.values()), len(counts), a.out))


if __name__ == "__main__":
    main()
