#!/usr/bin/python3
"""Fills docs/benchmarks.md from the outputs of scripts/benchmarks.sh: the template
(scripts/benchmarks.md.in) holds the text; {name} fields are tables and numbers computed
here from the JSON and text files in OUT_DIR.

    benchmarks_report.py OUT_DIR [--template scripts/benchmarks.md.in] [--out docs/benchmarks.md]
"""
import argparse
import json
import os
import re
import sys

SCHEMES = ["f32", "bf16", "int8-dynamic", "int8-static", "int4", "mixed"]


def load(out, name, default=None):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f) if name.endswith(".json") else f.read()


def table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def mb(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def rate(r):
    return f"{r['samples_per_second_mean']:,.0f} ± {r['samples_per_second_sd']:,.0f}"


def machine(out):
    text = load(out, "machine.txt", "")
    field = lambda key: (re.search(rf"^{key}:\s*(.+)$", text, re.M) or [None, "?"])[1].strip()
    caches = ", ".join(f"L{level}{kind[:1].lower()} {int(size) // 1024} kB" for level, kind, size in
                       re.findall(r"^LEVEL(\d)_(\w*?)CACHE_SIZE\s+(\d+)", text, re.M) if int(size) > 0)
    flags = field("Flags").split()
    simd = " ".join(f for f in flags if f.startswith(("avx512", "avx2", "fma", "avx_vnni")))
    cpus = field(r"CPU\(s\)")
    busy = [l[len("busy: "):] for l in text.splitlines() if l.startswith("busy: ")]
    state = ("**loaded**: " + "; ".join(busy) + " shared the 2 cores with the measurement" if busy
             else "no other process above 10% CPU at the start")
    return (f"**Machine** ({text.splitlines()[0] if text else '?'}): {field('Model name')}, CPU family "
            f"{field('CPU family')} model {field('Model')}, {cpus} cores (1 thread each), "
            f"caches {caches} (as the VM reports them); SIMD: {simd}. "
            f"Load average at the start: {field('load') if 'load:' in text else '?'}. Machine state: {state}. "
            "\n\n<details><summary>lscpu</summary>\n\n```\n"
            + "\n".join(l for l in text.splitlines()[1:] if ":" in l and not l.startswith(("Vulnerability", "busy", "load")))
            + "\n```\n</details>")


def pytorch(out, values):
    text = load(out, "compare_pytorch.txt", "")
    data = load(out, "compare_pytorch.json", {"rows": [], "depth": []})
    lines = text.splitlines()
    main = [l for l in lines if l.startswith("|")]
    depth_start = next((i for i, l in enumerate(main) if l.startswith("| L |")), len(main))
    notes = [l for l in lines if l.startswith(("same algorithm", "fastest", "PyTorch quantize_dynamic", "conversion",
                                               "pytorch generate", "time to quantize", "torch "))]
    rows = data["rows"]
    get = lambda impl, method, form: next((r["samples_per_second_mean"] for r in rows if r["implementation"] == impl
                                           and r["method"] == method and form in (r["form"], r["form"].split(" (")[0])),
                                          float("nan"))
    values.update(
        pt_generate=get("pytorch", "generate", "Conv1d f32"), pt_fast=get("pytorch", "generate_fast", "Conv1d f32"),
        pt_fast_dyn=get("pytorch", "generate_fast", "Conv1d, quantize_dynamic (seeds)"),
        pt_lin=get("pytorch", "generate_fast", "Linear f32"),
        pt_lin_dyn=get("pytorch", "generate_fast", "Linear, quantize_dynamic int8"),
        pt_static=get("pytorch", "generate_fast", "Conv1d, static int8 (stubs, onednn)"),
        fw_naive=get("fastwave", "naive", "f32"), fw_fast=get("fastwave", "fast", "f32"),
        fw_best=max((r["samples_per_second_mean"] for r in rows if r["implementation"] == "fastwave"), default=float("nan")),
        convert_seconds=data.get("convert_seconds", float("nan")))
    values["pt_best"] = max(values[k] for k in ("pt_generate", "pt_fast", "pt_fast_dyn", "pt_lin", "pt_lin_dyn", "pt_static"))
    values.update(fw_naive_vs_pt=values["fw_naive"] / values["pt_generate"],
                  fw_fast_vs_pt=values["fw_fast"] / values["pt_fast"], pt_lin_gain=values["pt_lin"] / values["pt_fast"],
                  fw_best_vs_pt_best=values["fw_best"] / values["pt_best"],
                  fw_best_vs_pt_generate=values["fw_best"] / values["pt_generate"])
    size = lambda form: next((r["bytes"] for r in rows if r["form"] == form), float("nan"))
    values["lin_size_ratio"] = size("Linear f32") / size("Linear, quantize_dynamic int8")
    static_note = next((r["note"] for r in rows if r["form"].startswith("Conv1d, static")), "")
    kl = re.search(r"mean KL ([\d.]+)", static_note)
    values["pt_static_kl"] = float(kl.group(1)) if kl else float("nan")
    values["depth_table"] = "\n".join(main[depth_start:])
    depth = data.get("depth", [])
    ratios = [d["fastwave_fast"] / d["pytorch_generate_fast"] for d in depth] or [float("nan")]
    values["depth_fw_vs_pt_lo"], values["depth_fw_vs_pt_hi"] = min(ratios), max(ratios)
    values["pt_fast_us"] = 1e6 / values["pt_fast"]
    values["depth_pt_ratios"] = ", ".join(f"{d['pytorch_generate_fast'] / d['pytorch_generate']:.1f}x at L = "
                                          f"{d['layers_per_block']}" for d in depth) or "?"
    values["sizes_rows"] = rows
    return ("```\n" + "\n".join(l for l in lines if l.startswith("  ") and "samples/s" in l) + "\n```\n\n"
            + "\n".join(main[:depth_start]) + "\n\n" + "\n".join(f"* {n}" for n in notes))


def schemes(out, values):
    rows = load(out, "schemes.json", []) + load(out, "ref.json", []) + load(out, "mixed.json", [])
    header = ["scheme", "isa", "method", "samples/s (mean ± sd)", "µs/sample", "x real time", "weights", "file",
              "weights GB/s", "GMAC/s", "cpu", "peak RSS", "quantize"]
    body = []
    for r in rows:
        body.append([r["scheme"], r["isa"], r["method"], rate(r), f"{r['us_per_sample']:,.1f}",
                     f"{r['times_real_time']:.3f}x", mb(r["weight_bytes"]), mb(r["model_file_bytes"]),
                     f"{r['weight_gb_per_second']:.1f}", f"{r['gmac_per_second']:.1f}", f"{100 * r['cpu_use']:.0f}%",
                     mb(r["peak_rss_bytes"]),
                     "-" if r["quantize_seconds"] is None else f"{r['quantize_seconds']:.2f} s"])
    find = lambda s, isa, m="fast": next((r for r in rows if r["scheme"] == s and r["isa"] == isa and r["method"] == m), None)
    for s in SCHEMES:
        r = find(s, "avx512")
        if r:
            values[f"{s.replace('-', '_')}_rate"] = r["samples_per_second_mean"]
            values[f"{s.replace('-', '_')}_us"] = r["us_per_sample"]
            values[f"{s.replace('-', '_')}_gbs"] = r["weight_gb_per_second"]
            values[f"{s.replace('-', '_')}_gmacs"] = r["gmac_per_second"]
    naive = find("f32", "avx512", "naive")
    values["naive_f32"] = naive["samples_per_second_mean"] if naive else float("nan")
    values["naive_gmacs"] = naive["gmac_per_second"] if naive else float("nan")
    ref = find("f32", "ref")
    values["ref_f32"] = ref["samples_per_second_mean"] if ref else float("nan")
    cpu = [r["cpu_use"] for r in rows]
    values["cpu_min"], values["cpu_max"] = (100 * min(cpu), 100 * max(cpu)) if cpu else (float("nan"),) * 2
    return table(header, body, ["---"] * 3 + ["---:"] * (len(header) - 3))


def layers(out, values):
    rows = load(out, "layers.json", [])
    by = {}
    for r in rows:
        by.setdefault(r["layers_per_block"], {})[r["method"]] = r
    body = []
    for L, m in sorted(by.items()):
        if "fast" not in m or "naive" not in m:
            continue
        f, n = m["fast"], m["naive"]
        body.append([L, f["receptive_field"], f"{n['samples_per_second_mean']:,.1f}", f"{f['samples_per_second_mean']:,.0f}",
                     f"{f['samples_per_second_mean'] / n['samples_per_second_mean']:,.0f}x",
                     f"{n['us_per_sample']:,.0f}", f"{f['us_per_sample']:.1f}", f"{n['gmac_per_second']:.1f}",
                     f"{f['gmac_per_second']:.1f}"])
    if body:
        values["layers_ratio_lo"], values["layers_ratio_hi"] = body[0][4], body[-1][4]
        values["layers_naive_gmacs_lo"], values["layers_naive_gmacs_hi"] = body[0][7], body[-1][7]
        values["layers_lo"], values["layers_hi"] = body[0][0], body[-1][0]
    return table(["L", "receptive field", "naive samples/s", "fast samples/s", "fast / naive", "naive µs/sample",
                  "fast µs/sample", "naive GMAC/s", "fast GMAC/s"], body)


def sizes(values):
    rows = values.get("sizes_rows", [])
    body = []
    seen = set()
    for r in rows:
        key = (r["implementation"], r["form"])
        if key in seen or r["method"] == "generate" or (r["implementation"] == "fastwave" and r["method"] == "naive"):
            continue
        seen.add(key)
        body.append([r["implementation"], r["form"], mb(r["bytes"]),
                     "-" if r["quantize_seconds"] is None else f"{r['quantize_seconds']:.3f} s", r["note"].strip("()")])
    return table(["implementation", "weights", "size", "time to quantize", "note"], body,
                 ["---", "---", "---:", "---:", "---"])


def streams(out, values):
    rows = load(out, "streams.json", [])
    counts = sorted({r["streams"] for r in rows})
    groups = sorted({(r["scheme"], r["threads"]) for r in rows}, key=lambda k: (SCHEMES.index(k[0]) if k[0] in SCHEMES else 9, k[1]))
    body = []
    for scheme, threads in groups:
        cells = []
        for n in counts:
            r = next((r for r in rows if r["scheme"] == scheme and r["threads"] == threads and r["streams"] == n), None)
            cells.append(f"{r['samples_per_second_mean']:,.0f} ({100 * r['cpu_use']:.0f}%)" if r else "-")
        body.append([f"{scheme}, {threads} thread{'s' if threads > 1 else ''}"] + cells)
    best = max(rows, key=lambda r: r["samples_per_second_mean"]) if rows else None
    for t in (1, 2):
        values[f"streams_best_t{t}"] = max((r["samples_per_second_mean"] for r in rows if r["threads"] == t),
                                           default=float("nan"))
    values["threads_gain"] = values["streams_best_t2"] / values["streams_best_t1"]
    if best:
        one = next(r for r in rows if r["scheme"] == best["scheme"] and r["streams"] == 1 and r["threads"] == 1)
        values.update(streams_best=best["samples_per_second_mean"], streams_best_scheme=best["scheme"],
                      streams_best_n=best["streams"], streams_best_threads=best["threads"],
                      streams_best_gain=best["samples_per_second_mean"] / one["samples_per_second_mean"],
                      streams_best_gmacs=best["gmac_per_second"])
    return table(["scheme, threads"] + [f"{n} stream{'s' if n > 1 else ''}" for n in counts], body)


def quality(out, values):
    body = []
    for s in SCHEMES[1:]:
        e = load(out, f"violin.{s}.eval.json")
        path = os.path.join(out, f"violin.{s}.fwm")
        if not e or not os.path.exists(path):
            continue
        t = e["total"]
        body.append([s, mb(os.path.getsize(path)), f"{100 * t['nll_change']:+.2f}%", f"{t['kl_mean']:.5f}",
                     f"{t['kl_p99']:.4f}", f"{100 * t['top1_agreement']:.1f}%"])
        if s == "bf16":
            values["ref_nll"] = t["reference_nll_bits"]
        values[f"{s.replace('-', '_')}_kl"] = t["kl_mean"]
    return table(["scheme", "file", "NLL change", "mean KL (nats)", "KL p99", "top-1 agreement"], body) if body else \
        "(no quality points: the run had no data/violin)"


def limits(out, values):
    kernels = load(out, "kernels.txt", "")
    t = {}
    for name, wall, cpu in re.findall(r"^(\S+)\s+([\d.]+) ns\s+([\d.]+) ns", kernels, re.M):
        t[name] = float(wall)
    layers_n = 40
    hot = {}
    for scheme, prefix in (("f32", "gemv"), ("bf16", "linear_bf16"), ("int8-dynamic", "linear_int8"), ("int4", "linear_int4")):
        keys = [f"{prefix}/{m}/avx512" for m in ("filter_gate", "residual_skip", "end1", "end2")]
        if all(k in t for k in keys):
            hot[scheme] = (layers_n * (t[keys[0]] + t[keys[1]]) + t[keys[2]] + t[keys[3]]) / 1000
    body = []
    macs = 40 * (2 * 32 * 2 * 32 + (32 + 256) * 32) + 256 * 256 + 256 * 256  # the violin model's, per sample
    for s, us in hot.items():
        key = s.replace('-', '_')
        measured = values.get(f"{key}_us")
        if measured:
            body.append([s, f"{us:.1f}", f"{measured:.1f}", f"{100 * us / measured:.0f}%", f"{macs / us / 1e3:.0f}"])
            values[f"{key}_hot_share"] = 100 * us / measured
            values[f"{key}_hot_gmacs"] = macs / us / 1e3
    bound = load(out, "gemv_bound.txt", "").strip()
    values["gemv_bound"] = f"```\n{bound}\n```" if bound else "(no bench/gemv_bound output)"
    memcpy = load(out, "memcpy.txt", "").strip()
    perf = []
    for s in ("f32", "int8-dynamic"):
        p = load(out, f"perf.{s}.txt", "")
        if p:
            perf.append(f"`{s}` (fast, 1 thread; `perf record -F 999`, top symbols):\n\n```\n{p.rstrip()}\n```")
    values["hot_table"] = table(["scheme", "matrices alone, hot (µs/sample)", "measured (µs/sample)",
                                 "share of the time", "GMAC/s alone"], body) if body else "(no kernels_bench output)"
    values["memcpy"] = "\n".join(f"* {l}" for l in memcpy.splitlines()) or "(perf not available)"
    values["perf"] = "\n\n".join(perf) or "(perf not available)"
    return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--template", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                                                           "benchmarks.md.in"))
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args()
    v = {}
    v["machine"] = machine(args.out_dir)
    v["pytorch"] = pytorch(args.out_dir, v)
    v["schemes"] = schemes(args.out_dir, v)
    v["layers"] = layers(args.out_dir, v)
    v["sizes"] = sizes(v)
    v["streams"] = streams(args.out_dir, v)
    v["quality"] = quality(args.out_dir, v)
    limits(args.out_dir, v)
    v["static_kl_ratio"] = v.get("pt_static_kl", float("nan")) / v.get("int8_static_kl", float("nan"))
    with open(args.template) as f:
        template = f.read()
    class Missing(dict):
        """A number the run did not produce (e.g. no data/ for the quality points) reads nan."""

        def __missing__(self, key):
            return float("nan")

    try:
        text = template.format_map(Missing(v))
    except ValueError as e:
        sys.exit(f"benchmarks_report.py: error: {e}")
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
