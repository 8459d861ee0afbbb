#!/usr/bin/python3
"""Trivial baselines for a dataset's NLL in bits/sample.

uniform: log2(classes) bits. histogram: the entropy of the training split's mu-law
histogram, and the cross-entropy of each held-out split under that histogram (what a model
that ignores all context would score there).

    /usr/bin/python3 tools/histogram_baseline.py data/violin [--classes 256] [--by-speaker]
"""
import argparse
import csv
import math
import os
import sys
import wave

import numpy as np


def read_ids(path, classes):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"histogram_baseline: {path}: expected 16-bit mono PCM")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    mu = classes - 1
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.floor((y + 1) / 2 * mu + 0.5), 0, mu).astype(np.int64)  # as fastwave::mulaw_encode


def histogram(rows, root, classes):
    counts = np.zeros(classes)
    for row in rows:
        counts += np.bincount(read_ids(os.path.join(root, row["path"]), classes), minlength=classes)
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--classes", type=int, default=256)
    parser.add_argument("--by-speaker", action="store_true", help="also report each speaker's test split")
    args = parser.parse_args()
    meta = os.path.join(args.dataset, "metadata.csv")
    if not os.path.exists(meta):
        sys.exit(f"histogram_baseline: no metadata.csv in {args.dataset}")
    with open(meta, newline="") as f:
        rows = list(csv.DictReader(f))
    train = histogram([r for r in rows if r["split"] == "train"], args.dataset, args.classes)
    p = (train + 1) / (train.sum() + args.classes)  # add-one smoothing: no infinite NLL
    entropy = -(train / train.sum() * np.log2(np.where(train > 0, train / train.sum(), 1))).sum()
    print(f"uniform: {math.log2(args.classes):.4f} bits/sample")
    print(f"train histogram entropy: {entropy:.4f} bits/sample")
    groups = [("valid", None), ("test", None)]
    if args.by_speaker:
        groups += [("test", s) for s in sorted({r["speaker"] for r in rows}, key=lambda s: (len(s), s))]
    for split, speaker in groups:
        selected = [r for r in rows if r["split"] == split and (speaker is None or r["speaker"] == speaker)]
        if not selected:
            continue
        counts = histogram(selected, args.dataset, args.classes)
        cross = -(counts * np.log2(p)).sum() / counts.sum()
        label = split + (f" speaker {speaker}" if speaker is not None else "")
        print(f"{label} under the train histogram: {cross:.4f} bits/sample")


if __name__ == "__main__":
    main()
