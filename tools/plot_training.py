#!/usr/bin/python3
"""Validation NLL against training hours and steps for the shipped models (and the first
vocoder, which the warm-started one replaced), from models/training_history.csv (model,
session, steps, hours, valid_bits; steps and hours counted over all sessions), into a PNG.

    /usr/bin/python3 tools/plot_training.py [models/training_history.csv] [-o models/training.png]
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def branches(points):
    """Rows in file order, split where a session restarted from fewer steps (a continuation
    that was put back); yields (points, whether the shipped file descends from them)."""
    parts = [[points[0]]]
    for k, p in enumerate(points[1:], 1):
        if p[1] < parts[-1][-1][1]:
            # The new branch grows from the last earlier point before it.
            parts.append([max((q for q in points[:k] if q[1] < p[1]), key=lambda q: q[1])])
        parts[-1].append(p)
    for i, part in enumerate(parts):
        # Past the point a later branch grew from, this branch was put back.
        fork = min((q[0][1] for q in parts[i + 1:]), default=part[-1][1])
        kept = [q for q in part if q[1] <= fork]
        yield kept, True
        if len(kept) < len(part):
            yield [kept[-1]] + part[len(kept):], False


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
    for n, (model, points) in enumerate(sorted(curves.items())):
        for i, (branch, shipped) in enumerate(branches(points)):
            style = dict(color=f"C{n}", marker="o", markersize=3 if shipped else 2,
                         alpha=1 if shipped else 0.35, label=model if i == 0 else None)
            for ax, x in ((axes[0], 0), (axes[1], 1)):
                ax.plot([p[x] for p in branch], [p[2] for p in branch], **style)
    axes[0].set_xlabel("training hours (one thread, on a machine shared with other work)")
    axes[1].set_xlabel("steps (batch 2 x 8192 targets; the first vocoder 2 x 4096)")
    axes[0].set_ylabel("validation NLL, bits/sample")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
