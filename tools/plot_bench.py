#!/usr/bin/python3
"""Plots of `fastwave bench` rows (its --json or --csv files) and of `fastwave eval --ref`
results, as PNGs (Debian's python3-matplotlib).

    plot_bench.py ROWS.json|ROWS.csv ... [--quality EVAL.json:MODEL.fwm ... [--reference F32.fwm]]
                  [--out docs]

Writes, for the rows it finds:
  bench_layers.png   naive and fast against layers per block (random 2 x L models, log
                     scale) with the 2^L, L·2^L and L slopes drawn through the last point
  bench_schemes.png  samples/s by scheme and ISA (fast, one stream, one thread)
  bench_sizes.png    model file and streamed weight bytes by scheme
  bench_streams.png  aggregate samples/s against streams, one line per thread count
  bench_quality.png  KL and NLL change against the model file size (--quality)
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NUMERIC = {"blocks", "layers_per_block", "receptive_field", "streams", "threads", "samples", "sample_rate",
           "warmup", "runs", "weight_bytes", "model_file_bytes"}
SCHEME_ORDER = ["f32", "bf16", "int8-dynamic", "int8-static", "int4", "mixed"]


def read_rows(path):
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            for k, v in r.items():
                if k in NUMERIC:
                    r[k] = int(float(v))
                elif k not in ("model", "scheme", "isa", "method"):
                    r[k] = float(v) if v != "" else None
        return rows
    with open(path) as f:
        rows = json.load(f)
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "method" in r for r in rows):
        sys.exit(f"plot_bench.py: error: '{path}' is not what fastwave bench --json writes")
    return rows


def scheme_key(name):
    return (SCHEME_ORDER.index(name) if name in SCHEME_ORDER else len(SCHEME_ORDER), name)


def one_step(r):
    return r["method"] == "fast" and r["streams"] == 1 and r["threads"] == 1


def plot_layers(rows, out):
    rows = [r for r in rows if r["model"] == "random"]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method, style in (("naive", "o-"), ("fast", "s-")):
        pts = sorted((r["layers_per_block"], r["us_per_sample"]) for r in rows
                     if r["method"] == method and r["streams"] == 1 and r["threads"] == 1)
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, style, label=f"{method} (measured)")
        last_x, last_y = xs[-1], ys[-1]
        if method == "naive":
            # The window doubles per layer per block and every one of the 2L layers runs over it.
            ax.plot(xs, [last_y * 2.0 ** (x - last_x) for x in xs], "k:", lw=1, label="∝ 2^L")
            ax.plot(xs, [last_y * x / last_x * 2.0 ** (x - last_x) for x in xs], "k-.", lw=1, label="∝ L·2^L")
        else:
            ax.plot(xs, [last_y * x / last_x for x in xs], "k--", lw=1, label="∝ L")
    ax.set_yscale("log")
    ax.set_xlabel("layers per block L (2 blocks, random init, 32/32/256/256 channels)")
    ax.set_ylabel("µs per generated sample (log)")
    ax.set_title("Naive vs fast generation against depth")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save(fig, out, "bench_layers.png")


def plot_schemes(rows, out):
    rows = [r for r in rows if r["model"] != "random" and one_step(r)]
    if not rows:
        return None
    schemes = sorted({r["scheme"] for r in rows}, key=scheme_key)
    isas = sorted({r["isa"] for r in rows})
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    width = 0.8 / len(isas)
    for i, isa in enumerate(isas):
        means, sds = [], []
        for s in schemes:
            match = [r for r in rows if r["scheme"] == s and r["isa"] == isa]
            means.append(match[0]["samples_per_second_mean"] if match else 0)
            sds.append(match[0]["samples_per_second_sd"] if match else 0)
        ax.bar([x + (i - (len(isas) - 1) / 2) * width for x in range(len(schemes))], means, width, yerr=sds,
               capsize=3, label=isa)
    rate = rows[0]["sample_rate"]
    ax.axhline(rate, color="k", lw=1, ls=":", label=f"real time ({rate} Hz)")
    ax.set_xticks(range(len(schemes)), schemes)
    ax.set_ylabel("samples/s (fast, 1 stream, 1 thread)")
    ax.set_title(f"Generation speed by scheme and ISA ({rows[0]['model']})")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, out, "bench_schemes.png")


def plot_sizes(rows, out):
    rows = [r for r in rows if r["model"] != "random"]
    if not rows:
        return None
    by_scheme = {}
    for r in rows:
        by_scheme.setdefault(r["scheme"], r)
    schemes = sorted(by_scheme, key=scheme_key)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    xs = range(len(schemes))
    ax.bar([x - 0.2 for x in xs], [by_scheme[s]["model_file_bytes"] / 1e6 for s in schemes], 0.4, label="model file")
    ax.bar([x + 0.2 for x in xs], [by_scheme[s]["weight_bytes"] / 1e6 for s in schemes], 0.4,
           label="weights streamed per sample")
    for x, s in zip(xs, schemes):
        ax.annotate(f"{by_scheme[s]['model_file_bytes'] / 1e6:.2f}", (x - 0.2, by_scheme[s]["model_file_bytes"] / 1e6),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), schemes)
    ax.set_ylabel("MB")
    ax.set_title("Size by scheme")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, out, "bench_sizes.png")


def plot_streams(rows, out):
    rows = [r for r in rows if r["method"] == "fast" and r["model"] != "random"]
    groups = {}
    for r in rows:
        groups.setdefault((r["scheme"], r["isa"], r["threads"]), []).append(r)
    groups = {k: v for k, v in groups.items() if len({r["streams"] for r in v}) > 1}
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (scheme, isa, threads), rs in sorted(groups.items(), key=lambda kv: (scheme_key(kv[0][0]), kv[0][1:])):
        by_streams = {r["streams"]: r["samples_per_second_mean"] for r in rs}  # the sweep's file wins (last)
        pts = sorted(by_streams.items())
        ax.plot(*zip(*pts), "o-", label=f"{scheme} {isa}, {threads} thread{'s' if threads > 1 else ''}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("streams stepped together")
    ax.set_ylabel("aggregate samples/s (log)")
    ax.set_title("Throughput against streams and threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, out, "bench_streams.png")


def plot_quality(pairs, reference, out):
    points = []
    for pair in pairs:
        eval_json, model = pair.rsplit(":", 1)
        with open(eval_json) as f:
            total = json.load(f)["total"]
        label = os.path.basename(model)
        for suffix in (".fwm",):
            label = label[: -len(suffix)] if label.endswith(suffix) else label
        points.append((os.path.getsize(model) / 1e6, total["kl_mean"], 100 * total["nll_change"], label))
    if not points:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    for size, kl, nll, label in points:
        a.plot(size, max(kl, 1e-7), "o")
        a.annotate(label, (size, max(kl, 1e-7)), fontsize=7, xytext=(3, 3), textcoords="offset points")
        b.plot(size, nll, "o")
        b.annotate(label, (size, nll), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if reference:
        for ax in (a, b):
            ax.axvline(os.path.getsize(reference) / 1e6, color="gray", ls=":", lw=1)
            ax.annotate("f32", (os.path.getsize(reference) / 1e6, 0.5), xycoords=("data", "axes fraction"),
                        fontsize=8, color="gray", xytext=(-14, 0), textcoords="offset points")
    a.set_yscale("log")
    a.set_xlabel("model file (MB)")
    a.set_ylabel("mean KL to the f32 model (nats/sample, log)")
    b.set_xlabel("model file (MB)")
    b.set_ylabel("NLL change (%)")
    b.axhline(0, color="k", lw=0.8)
    for ax in (a, b):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("Quality against size (teacher-forced on held-out audio)")
    return save(fig, out, "bench_quality.png")


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help="fastwave bench --json or --csv files")
    parser.add_argument("--quality", action="append", default=[], metavar="EVAL.json:MODEL.fwm",
                        help="a `fastwave eval --ref` JSON and the model file it scored (repeatable)")
    parser.add_argument("--reference", metavar="MODEL.fwm", help="the float model the --quality runs compare with")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    rows = [r for path in args.rows for r in read_rows(path)]
    os.makedirs(args.out, exist_ok=True)
    written = [plot(rows, args.out) for plot in (plot_layers, plot_schemes, plot_sizes, plot_streams)]
    written.append(plot_quality(args.quality, args.reference, args.out))
    written = [w for w in written if w]
    if not written:
        sys.exit("plot_bench.py: error: nothing to plot in these files")
    for w in written:
        print(f"wrote {w}")


if __name__ == "__main__":
    main()
