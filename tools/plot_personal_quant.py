#!/usr/bin/python3
"""Plots of the personalisation experiment (tools/personal_quant.py's CSV):
docs/personal-quality-vs-size.png (KL to the float model on each user's held-out audio
against file size: mixed vs uniform, personal vs generic calibration) and
docs/personal-bits-per-layer.png (the widths each allocator chose, from the --report-csv
files in the work directory)."""
import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def paired_comparison(rows):
    """Own calibration against each other one, user by user (greedy-kl): a mean over users
    hides whether the same users gain, so count them and take the geometric mean ratio."""
    kl = {(r["budget"], r["user"], r["calibration"].split(" (")[0]): float(r["kl"])
          for r in rows if r["allocator"] == "greedy-kl"}
    lines = ["### Own calibration against the others, user by user (speech, greedy-kl)", "",
             "| budget | own against | users where own is lower | KL(other) / KL(own), geometric mean |",
             "| --- | --- | --- | --- |"]
    for budget in dict.fromkeys(r["budget"] for r in rows):
        for other in ("pooled", "other gender", "other engine", "other speaker"):
            pairs = [(kl[(budget, u, "own")], kl[(budget, u, other)]) for (b, u, kind) in kl
                     if b == budget and kind == other and (budget, u, "own") in kl]
            if not pairs:
                continue
            wins = sum(own < alt for own, alt in pairs)
            ratio = math.exp(mean([math.log(alt / own) for own, alt in pairs]))
            lines.append(f"| {budget} bits | {other} | {wins} of {len(pairs)} | {ratio:.3f} |")
    return lines + [""]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("csv")
    p.add_argument("--out-dir", default="docs")
    p.add_argument("--layers-csv", help="work directory holding the allocations' --report-csv files")
    p.add_argument("--markdown", help="also write the summary tables here")
    a = p.parse_args()
    out = Path(a.out_dir)
    rows = list(csv.DictReader(open(a.csv)))

    if a.markdown:
        lines = []
        for model in dict.fromkeys(r["model"] for r in rows):
            subset = [r for r in rows if r["model"] == model]
            users = sorted(set(r["user"] for r in subset))
            lines += [f"### {model} ({'users ' + ', '.join(users) if model == 'speech' else 'held-out audio'})", "",
                      "| budget | allocator | calibrated on | file (kB) | NLL change | KL (nats/sample) | top-1 agreement |",
                      "| --- | --- | --- | --- | --- | --- | --- |"]
            groups = defaultdict(list)
            for r in subset:
                groups[(r["budget"], r["allocator"], r["calibration"].split(" (")[0])].append(r)
            for (budget, allocator, kind), rs in groups.items():
                nll = mean([float(r["nll"]) / float(r["reference_nll"]) - 1 for r in rs])
                lines.append(f"| {budget} bits | {allocator} | {kind} | {mean([int(r['file_bytes']) for r in rs]) / 1000:.1f} | "
                             f"{100 * nll:+.2f}% | {mean([float(r['kl']) for r in rs]):.4f} | "
                             f"{100 * mean([float(r['top1']) for r in rs]):.1f}% |")
            lines.append("")
        lines += paired_comparison([r for r in rows if r["model"] == "speech"])
        Path(a.markdown).write_text("\n".join(lines))
        print(f"wrote {a.markdown}")

    # Mean KL over users for each (calibration kind, allocator), at each file size: the
    # speech model's users only (the other models have their own sizes).
    rows = [r for r in rows if r["model"] == "speech"]
    series = defaultdict(list)
    for r in rows:
        kind = r["calibration"].split(" (")[0]
        series[(kind, r["allocator"])].append((int(r["file_bytes"]), float(r["kl"])))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (kind, allocator), points in sorted(series.items()):
        by_size = defaultdict(list)
        for size, kl in points:
            by_size[size].append(kl)
        if kind != "uniform":
            # Budgets of one name share a size only approximately: group by budget instead.
            by_budget = defaultdict(list)
            for r in rows:
                if r["calibration"].split(" (")[0] == kind and r["allocator"] == allocator:
                    by_budget[int(r["budget_bytes"])].append(float(r["kl"]))
            by_size = by_budget
        xs = sorted(by_size)
        style = "k--o" if kind == "uniform" else "-o"
        ax.plot([x / 2**20 for x in xs], [mean(by_size[x]) for x in xs], style,
                label="uniform width" if kind == "uniform" else f"{allocator}, calibrated on {kind}", markersize=4)
    ax.set_xlabel("model file (MiB)")
    ax.set_ylabel("KL to the float model (nats/sample), mean over users")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("speech model: quality against size on each user's held-out audio")
    fig.tight_layout()
    fig.savefig(out / "personal-quality-vs-size.png", dpi=110)
    print(f"wrote {out / 'personal-quality-vs-size.png'}")

    if a.layers_csv:
        reports = sorted(Path(a.layers_csv).glob("speech-4.5-*-speaker4.fwm.csv"))
        if reports:
            fig, ax = plt.subplots(figsize=(10, 3.5))
            width = 0.8 / len(reports)
            for i, report in enumerate(reports):
                units = [u for u in csv.DictReader(open(report)) if u["unit"] != "total"]
                ax.bar([j + i * width for j in range(len(units))], [int(u["bits"]) for u in units], width,
                       label=report.name[len("speech-4.5-"):-len("-speaker4.fwm.csv")])
            ax.set_xticks(range(0, len(units), 4))
            ax.set_xticklabels([units[j]["unit"].replace(" filter+gate", " fg").replace(" residual+skip", " rs")
                                for j in range(0, len(units), 4)], rotation=60, fontsize=6)
            ax.set_ylabel("bits")
            ax.set_title("widths chosen at the 4.5-bit budget, calibrated on speaker 4")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / "personal-bits-per-layer.png", dpi=110)
            print(f"wrote {out / 'personal-bits-per-layer.png'}")


if __name__ == "__main__":
    main()
