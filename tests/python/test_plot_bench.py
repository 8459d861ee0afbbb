#!/usr/bin/python3
"""tools/plot_bench.py draws every plot from what `fastwave bench` and `fastwave eval --ref`
write, JSON or CSV alike (behaviour only: files appear, nothing about the numbers).

    test_plot_bench.py --fastwave BUILD/fastwave --workdir DIR
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOT = os.path.join(ROOT, "tools", "plot_bench.py")


def run(*args):
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fastwave", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    w = args.workdir
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    fw, quick = args.fastwave, ["--runs", "1", "--warmup", "0", "-n", "30", "--naive-samples", "1"]
    model, q = os.path.join(w, "m.fwm"), os.path.join(w, "m.int8.fwm")
    run(fw, "init", "-o", model, "--blocks", "2", "--layers-per-block", "3", "--seed", "1")
    run(fw, "bench", "--sweep", "layers=2..3", *quick, "--json", os.path.join(w, "layers.json"))
    run(fw, "bench", "-m", model, "--schemes", "f32,int8-dynamic", "--isa", "all", "--sweep", "streams=1,2",
        "--sweep", "threads=1,2", *quick, "--csv", os.path.join(w, "grid.csv"))
    run(fw, "quantize", model, "-o", q, "--scheme", "int8-dynamic")
    run(fw, "generate", "-m", model, "-o", os.path.join(w, "a.wav"), "-n", "400")
    run(fw, "eval", "-m", q, "--ref", model, "--wav", os.path.join(w, "a.wav"), "--json", os.path.join(w, "q.json"))
    out = os.path.join(w, "plots")
    run(sys.executable, PLOT, os.path.join(w, "layers.json"), os.path.join(w, "grid.csv"),
        "--quality", f"{os.path.join(w, 'q.json')}:{q}", "--reference", model, "--out", out)
    failures = 0
    for name in ("bench_layers.png", "bench_schemes.png", "bench_sizes.png", "bench_streams.png", "bench_quality.png"):
        path = os.path.join(out, name)
        ok = os.path.isfile(path) and os.path.getsize(path) > 1000
        print(f"{name}: {'ok' if ok else 'MISSING'}")
        failures += not ok
    empty = subprocess.run([sys.executable, PLOT, "--out", out], capture_output=True, text=True)
    ok = empty.returncode == 1 and empty.stderr.count("\n") == 1
    print(f"nothing to plot is one line and exit 1: {'ok' if ok else 'FAIL: ' + empty.stderr}")
    failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
