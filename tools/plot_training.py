#!/usr/bin/python3
"""Validation NLL against training hours and steps for the shipped models, from
models/training_history.csv (model, session, steps, hours, valid_bits; steps and hours
counted over all sessions), into a PNG.

    /usr/bin/python3 tools/plot_training.py [models/training_history.csv] [-o models/training.png]
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("history", nargs="?", default="models/training_history.csv")
    p.add_argument("-o", "--output", default="models/training.png")
    a = p.parse_args()
    curves = {}
    try:
        with open(a.history, newline="") as f:
            for row in csv.DictReader(f):
                curves.setdefault(row["model"], []).append(
                    (float(row["hours"]), int(row["steps"]), float(row["valid_bits"])))
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"plot_training: {a.history}: {e}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for model, points in sorted(curves.items()):
        points.sort()
        axes[0].plot([h for h, _, _ in points], [b for _, _, b in points], marker="o", label=model)
        axes[1].plot([s for _, s, _ in points], [b for _, _, b in points], marker="o", label=model)
    axes[0].set_xlabel("training hours (one thread, on a machine shared with other work)")
    axes[1].set_xlabel("steps (batch 2 x 8192 targets; the vocoder 2 x 4096)")
    axes[0].set_ylabel("validation NLL, bits/sample")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
