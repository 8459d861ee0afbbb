#!/usr/bin/python3
"""The personalisation experiment of docs/personal-quantization.md (myQASR's Table 3, for
WaveNet): per-layer widths allocated under a byte budget on one user's unlabelled audio,
tested on that user's held-out audio against allocations made on someone else's audio,
on the other group, on everyone pooled, and against uniform widths.

Drives the fastwave binary only (quantize --budget-mb, eval --ref); writes one CSV row per
(model, budget, user, calibration) and the plots. Run through scripts/personal_quant.sh.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

# The speech data's eight voices (data/speech/metadata.csv): two ways to group them.
GENDER = {0: "male", 1: "male", 2: "male", 3: "male", 4: "female", 5: "female", 6: "female", 7: "female"}
ENGINE = {0: "flite", 1: "flite", 2: "flite", 4: "flite", 3: "espeak-ng", 5: "espeak-ng", 6: "espeak-ng", 7: "espeak-ng"}


def run(args, log):
    start = time.time()
    result = subprocess.run(args, capture_output=True, text=True)
    log.write("$ " + " ".join(args) + f"\n{result.stdout}{result.stderr}({time.time() - start:.1f} s)\n")
    log.flush()
    if result.returncode != 0:
        sys.exit(f"personal_quant: {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout, time.time() - start


def clip_dir(src, dst, seconds, soxi_cache):
    """dst holds symlinks to the first files of src that add up to `seconds` of audio."""
    dst.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for wav in sorted(src.glob("*.wav")):
        if total >= seconds:
            break
        if wav not in soxi_cache:
            soxi_cache[wav] = float(subprocess.run(["soxi", "-D", str(wav)], capture_output=True, text=True).stdout)
        link = dst / wav.name
        if not link.exists():
            link.symlink_to(wav.resolve())
        total += soxi_cache[wav]
    return dst


def speaker_dirs(root, speakers, dst):
    """dst/<k> -> root/<k> for the speakers of a group (--calib-speaker-dirs)."""
    dst.mkdir(parents=True, exist_ok=True)
    for k in speakers:
        link = dst / str(k)
        if not link.exists():
            link.symlink_to((root / str(k)).resolve())
    return dst


def evaluate(a, model, reference, test_dir, speaker, log, max_seconds=None):
    # Cached per (model, test set): an interrupted run picks up where it stopped.
    out = a.work / "evals" / f"{Path(model).stem}__{Path(test_dir).name}-{Path(test_dir).parent.name}.json"
    out.parent.mkdir(exist_ok=True)
    if out.exists():
        return json.loads(out.read_text())["total"]
    args = [a.fastwave, "eval", "-m", str(model), "--ref", str(reference), "--dir", str(test_dir), "--json", str(out),
            "--threads", str(a.threads)]
    if speaker is not None:
        args += ["--speaker", str(speaker)]
    if max_seconds is not None:
        args += ["--max-seconds", str(max_seconds)]
    run(args, log)
    return json.loads(out.read_text())["total"]


def quantize(a, model, out, calib_args, extra, log):
    args = [a.fastwave, "quantize", str(model), "-o", str(out), "--calib-seconds", str(a.calib_seconds),
            "--group-size", str(a.group_size)] + calib_args + extra
    stdout, seconds = run(args, log)
    return out.stat().st_size, seconds, stdout


def uniform(a, model, bits, calib_args, log, tag):
    out = a.work / f"{tag}-uniform{bits}.fwm"
    extra = ["--scheme", f"int{bits}-static", "--layer-scheme", f"start=int{bits}"]
    if tag == "speech":
        extra += ["--layer-scheme", f"conditioning=int{bits}"]
    if not out.exists():
        quantize(a, model, out, calib_args, extra, log)
    return out


# Allocator spellings of the experiment and their flags: myQASR's own order and the reverse.
ALLOCATOR_FLAGS = {
    "greedy-kl": ["--allocator", "greedy-kl"],
    "myqasr": ["--allocator", "myqasr", "--order", "descending"],
    "myqasr-ascending": ["--allocator", "myqasr", "--order", "ascending"],
}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fastwave", default="build/fastwave")
    p.add_argument("--speech-model", default="models/speech.fwm")
    p.add_argument("--speech-data", default="data/speech")
    p.add_argument("--violin-model", default="models/violin.fwm")
    p.add_argument("--violin-data", default="data/violin")
    p.add_argument("--real-speech", default="data/realspeech")
    p.add_argument("--calib-seconds", type=float, default=10)
    p.add_argument("--test-seconds", type=float, default=6)
    p.add_argument("--violin-test-seconds", type=float, default=20)
    p.add_argument("--group-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--allocators", default="greedy-kl,myqasr,myqasr-ascending")
    p.add_argument("--speakers", default="0,1,2,3,4,5,6,7")
    p.add_argument("--budgets", default="6,4.5,3.5",
                   help="widths in bits: a whole width is that uniform model's size, x.5 halfway to the next")
    p.add_argument("--work", default="runs/personal_quant")
    p.add_argument("--csv", default="docs/personal-quantization.csv")
    a = p.parse_args()
    a.work = Path(a.work)
    a.work.mkdir(parents=True, exist_ok=True)
    log = open(a.work / "log.txt", "a")
    soxi = {}
    speech, data = Path(a.speech_model), Path(a.speech_data)
    speakers = [int(s) for s in a.speakers.split(",")]
    allocators = a.allocators.split(",")
    rows = []

    def add(**row):
        rows.append(row)
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        with open(a.csv + ".tmp", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        os.replace(a.csv + ".tmp", a.csv)

    budget_names = a.budgets.split(",")
    # The largest uniform width that fits each budget, and the uniform widths the sizes need.
    uniform_at = {name: int(float(name)) for name in budget_names}
    widths = sorted({w for name in budget_names for w in (int(float(name)), math.ceil(float(name)))})

    def budget_bytes(sizes):
        return {name: (sizes[math.floor(float(name))] + sizes[math.ceil(float(name))]) // 2 for name in budget_names}

    pooled = ["--calib", str(data / "train"), "--calib-speaker-dirs"]
    size = {b: uniform(a, speech, b, pooled, log, "speech").stat().st_size for b in widths}
    budgets = budget_bytes(size)

    tests = {k: clip_dir(data / "test" / str(k), a.work / "test" / str(k), a.test_seconds, soxi) for k in speakers}
    groups = {}
    for name, table in (("gender", GENDER), ("engine", ENGINE)):
        for value in set(table.values()):
            members = [k for k in table if table[k] == value]
            groups[(name, value)] = speaker_dirs(data / "train", members, a.work / f"group-{value}")

    measured = {}
    for budget_name, budget in budgets.items():
        mb = repr(budget / 2**20)  # exact: the budgets are whole bytes over 2^20
        models = {}

        def allocate(tag, calib_args, allocator):
            out = a.work / f"speech-{budget_name}-{allocator}-{tag}.fwm"
            if not out.exists():
                csv_path = str(out) + ".csv"
                extra = ["--budget-mb", mb, "--report-csv", csv_path] + ALLOCATOR_FLAGS[allocator]
                # The sensitivities depend on the audio, not the budget: measured once per calibration.
                if (tag, allocator) in measured:
                    extra += ["--sensitivity-from", measured[(tag, allocator)]]
                _, seconds, _ = quantize(a, speech, out, calib_args, extra, log)
                Path(str(out) + ".seconds").write_text(f"{seconds:.2f}\n")
                measured.setdefault((tag, allocator), csv_path)
            return out

        for allocator in allocators:
            if allocator == "greedy-kl":
                models[("pooled", allocator)] = allocate("pooled", pooled, allocator)
            for k in speakers:
                own = ["--calib", str(data / "train" / str(k)), "--speaker", str(k)]
                models[(f"own{k}", allocator)] = allocate(f"speaker{k}", own, allocator)
            if allocator != "greedy-kl":
                continue  # the group comparisons use the default allocator only
            for (gname, value), gdir in groups.items():
                models[(value, allocator)] = allocate(f"group-{value}", ["--calib", str(gdir), "--calib-speaker-dirs"],
                                                      allocator)
        uniform_model = a.work / f"speech-uniform{uniform_at[budget_name]}.fwm"
        for k in speakers:
            # Another speaker of the same gender and engine family if there is one, else of the same gender.
            same = [o for o in speakers if o != k and GENDER[o] == GENDER[k]]
            other_speaker = next((o for o in same if ENGINE[o] == ENGINE[k]), same[0] if same else None)
            other_gender = "female" if GENDER[k] == "male" else "male"
            other_engine = "espeak-ng" if ENGINE[k] == "flite" else "flite"
            cases = [("uniform", None, uniform_model)]
            for allocator in allocators:
                cases.append(("own", allocator, models[(f"own{k}", allocator)]))
                if allocator != "greedy-kl":
                    continue  # the calibration comparisons use the default allocator only
                cases.append(("pooled", allocator, models[("pooled", allocator)]))
                if (other_gender, allocator) in models:
                    cases += [("other gender", allocator, models[(other_gender, allocator)]),
                              ("other engine", allocator, models[(other_engine, allocator)])]
                if other_speaker is not None and (f"own{other_speaker}", allocator) in models:
                    cases.append((f"other speaker ({other_speaker})", allocator, models[(f"own{other_speaker}", allocator)]))
            for calibration, allocator, model in cases:
                r = evaluate(a, model, speech, tests[k], k, log)
                add(model="speech", budget=budget_name, budget_bytes=budget, file_bytes=model.stat().st_size,
                    user=k, gender=GENDER[k], engine=ENGINE[k], calibration=calibration, allocator=allocator or "uniform",
                    nll=r["nll_bits"], reference_nll=r["reference_nll_bits"],
                    kl=r["kl_mean"], top1=r["top1_agreement"])

    # Two more users: the violin model (its own train audio against speech audio), and the
    # real LibriVox/recorded clips as an unseen speaker of the speech model (conditioned as
    # speaker 0; its own clips against the eight synthetic voices pooled).
    real = Path(a.real_speech)
    real_files = sorted(real.glob("*.wav"))
    real_calib, real_test = a.work / "real-calib", a.work / "real-test"
    for i, wav in enumerate(real_files):
        target = (real_calib if i % 2 == 0 else real_test) / wav.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(wav.resolve())
    domains = [
        ("violin", Path(a.violin_model), None, clip_dir(Path(a.violin_data) / "test", a.work / "violin-test", a.test_seconds, soxi),
         ["--calib", str(Path(a.violin_data) / "train")], ("speech audio", ["--calib", str(data / "train" / "0")])),
        ("real speech", speech, 0, real_test, ["--calib", str(real_calib), "--speaker", "0"],
         ("the 8 voices pooled", pooled)),
    ]
    for tag, model, speaker, test_dir, own, (other_name, other) in domains:
        file_tag = tag.replace(" ", "-")
        if tag == "violin":
            sizes = {b: uniform(a, model, b, own, log, "violin").stat().st_size for b in widths}
        else:
            sizes = size
        for budget_name, budget in budget_bytes(sizes).items():
            mb = repr(budget / 2**20)  # exact: the budgets are whole bytes over 2^20
            cases = [("uniform", "uniform", a.work / f"{'violin' if tag == 'violin' else 'speech'}-uniform{uniform_at[budget_name]}.fwm")]
            for allocator, calibration, calib_args in (("greedy-kl", "own", own), ("myqasr", "own", own),
                                                       ("myqasr-ascending", "own", own), ("greedy-kl", other_name, other)):
                out = a.work / f"{file_tag}-{budget_name}-{allocator}-{calibration.replace(' ', '-')}.fwm"
                key = (file_tag, allocator, calibration)
                if not out.exists():
                    extra = ["--budget-mb", mb, "--report-csv", str(out) + ".csv"] + ALLOCATOR_FLAGS[allocator]
                    if key in measured:
                        extra += ["--sensitivity-from", measured[key]]
                    quantize(a, model, out, calib_args, extra, log)
                measured.setdefault(key, str(out) + ".csv")
                cases.append((calibration, allocator, out))
            for calibration, allocator, qmodel in cases:
                # The violin test split is one long rendering: its first violin_test_seconds.
                r = evaluate(a, qmodel, model, test_dir, speaker, log,
                             a.violin_test_seconds if tag == "violin" else None)
                add(model=tag, budget=budget_name, budget_bytes=budget, file_bytes=qmodel.stat().st_size,
                    user=tag, gender="", engine="", calibration=calibration, allocator=allocator,
                    nll=r["nll_bits"], reference_nll=r["reference_nll_bits"], kl=r["kl_mean"], top1=r["top1_agreement"])

    print(f"wrote {a.csv}")


if __name__ == "__main__":
    main()
