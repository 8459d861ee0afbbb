#!/usr/bin/python3
"""tools/vocoder_report.py end to end on a tiny random vocoder and three short clips it
writes itself (numpy tones and noise, two "synthetic speakers" and one "real" clip, with
their metadata): the CSV has its columns and a row per scheme x group, the distances are
finite, the noise baseline has rows, the markdown and PNG appear, and a missing model is one line and exit 1. WER is
measured only when pocketsphinx_continuous is installed (the tool requires it by default).

    test_vocoder_report.py --fastwave BUILD/fastwave --workdir DIR
"""
import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "vocoder_report.py")
COLUMNS = ["scheme", "group", "clips", "seconds", "lsd_db", "mcd_db", "frechet", "wer", "wer_original",
           "wer_clips", "rtf", "cpu_seconds"]


def write_wav(path, x, rate=16000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def clip(seed, f0, seconds=0.4, rate=16000):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6))
    return x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))


def fastwave_and_fresh_workdir():
    """The --fastwave and --workdir arguments; the work directory emptied."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fastwave", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    w = os.path.abspath(args.workdir)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    return args.fastwave, w


def main():
    fw, w = fastwave_and_fresh_workdir()
    model = os.path.join(w, "tiny.fwm")
    subprocess.run([fw, "init", "--vocoder", "--residual-channels", "8", "--dilation-channels", "8",
                    "--skip-channels", "8", "--end-channels", "8", "--blocks", "1", "--layers-per-block", "4",
                    "-o", model], check=True, stdout=subprocess.DEVNULL)
    speech, real = os.path.join(w, "speech"), os.path.join(w, "real")
    write_wav(os.path.join(speech, "test/0/a.wav"), clip(1, 120))
    write_wav(os.path.join(speech, "test/0/b.wav"), clip(2, 130))  # second test row of speaker 0: not taken
    write_wav(os.path.join(speech, "test/1/c.wav"), clip(3, 220))
    write_wav(os.path.join(real, "r.wav"), clip(4, 180))
    with open(os.path.join(speech, "metadata.csv"), "w") as f:
        f.write("speaker,gender,engine,voice,split,path,seconds,text\n"
                "0,male,numpy,tone,train,test/0/b.wav,0.4,not chosen\n"
                "0,male,numpy,tone,test,test/0/a.wav,0.4,\"Hello, world.\"\n"
                "0,male,numpy,tone,test,test/0/b.wav,0.4,second one\n"
                "1,female,numpy,tone,test,test/1/c.wav,0.4,good morning\n")
    with open(os.path.join(real, "metadata.csv"), "w") as f:
        f.write("speaker,gender,engine,voice,split,path,seconds,text\nreal,,numpy,tone,eval,r.wav,0.4,\n")

    wer = shutil.which("pocketsphinx_continuous") is not None
    budget = f"budget-{0.9 * os.path.getsize(model) / 2**20:.4f}"  # 90% of the float file: some layers at 8 bits
    out = os.path.join(w, "out", "vocoder")
    cmd = [sys.executable, TOOL, "-m", model, "--fastwave", fw, "--out", out, "--work", os.path.join(w, "work"),
           "--speech-meta", os.path.join(speech, "metadata.csv"), "--real-meta", os.path.join(real, "metadata.csv"),
           "--per-speaker", "1", "--schemes", f"float,int8-dynamic,{budget}", "--png-seconds", "1",
           "--calib-audio", os.path.join(speech, "test/0/b.wav")]
    result = subprocess.run(cmd + ([] if wer else ["--no-wer"]), capture_output=True, text=True)
    failures = 0

    def check(name, ok, why=""):
        nonlocal failures
        print(f"{name}: {'ok' if ok else 'FAIL ' + why}")
        failures += not ok

    check("tool runs", result.returncode == 0, result.stderr)
    if result.returncode != 0:
        return 1
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    check("a progress line per utterance", len(progress) == 3, result.stderr)
    with open(out + ".csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    check("CSV columns", reader.fieldnames == COLUMNS, str(reader.fieldnames))
    check("a row per scheme x group", [(r["scheme"], r["group"]) for r in rows] == [
        (s, g) for s in ("float", "int8-dynamic", budget, "noise") for g in ("synthetic", "real", "all")], str(rows))
    check("clips per group", [r["clips"] for r in rows[:3]] == ["2", "1", "3"], str(rows))
    finite = all(math.isfinite(float(r[k])) and float(r[k]) >= 0 for r in rows
                 for k in ("lsd_db", "mcd_db", "frechet", "seconds"))
    check("distances and seconds finite", finite, str(rows))
    check("RTF of the vocoder rows, none for the noise baseline",
          all(float(r["rtf"]) > 0 for r in rows[:9]) and all(r["rtf"] == "" for r in rows[9:]), str(rows))
    if wer:
        synthetic = rows[0]
        ok = (synthetic["wer_clips"] == "2" and float(synthetic["wer"]) >= 0 and float(synthetic["wer_original"]) >= 0
              and rows[1]["wer"] == "" and rows[1]["wer_clips"] == "0")
        check("WER where the text exists", ok, str(rows))
    else:
        print("WER: skipped (no pocketsphinx_continuous)")
    check("markdown table", os.path.isfile(out + "-table.md") and open(out + "-table.md").read().count("\n| float |") == 3)
    check("spectrogram PNG", os.path.isfile(out + ".png") and os.path.getsize(out + ".png") > 1000)
    names = sorted(os.listdir(os.path.dirname(out)))
    check("no temporary files left", names == ["vocoder-table.md", "vocoder.csv", "vocoder.png"], str(names))

    missing = subprocess.run([sys.executable, TOOL, "-m", os.path.join(w, "nope.fwm"), "--fastwave", fw,
                              "--out", os.path.join(w, "never")], capture_output=True, text=True)
    check("missing model is one line and exit 1", missing.returncode == 1 and missing.stderr.count("\n") == 1
          and "nope.fwm" in missing.stderr, missing.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
