#!/usr/bin/python3
"""Calibrated generation-quality table for the shipped models (docs/audio-quality.md).

For each model and reference set it runs `fastwave generate` (free-running, from silence)
and `fastwave compare`, next to the baselines that calibrate the log-mel Frechet distance:
a different real recording, white noise and silence, all of the same length.

    /usr/bin/python3 tools/quality_table.py [--fastwave build/fastwave] [--data data]
        [--violin models/violin.fwm] [--speech models/speech.fwm] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TEMPERATURES = (0.8, 0.9, 1.0)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"quality_table: {' '.join(cmd)} failed: {result.stderr.strip()}")
    return result.stdout


class Judge:
    def __init__(self, fastwave, work):
        self.fastwave, self.work, self.count = fastwave, work, 0

    def path(self, name):
        self.count += 1
        return os.path.join(self.work, f"{self.count:03d}_{name}.wav")

    def compare(self, audio, ref, max_seconds=0):
        out = os.path.join(self.work, "compare.json")
        cmd = [self.fastwave, "compare", audio, "--ref", ref, "--json", out]
        if max_seconds:
            cmd += ["--max-seconds", str(max_seconds)]
        run(cmd)
        with open(out) as f:
            return json.load(f)

    def excerpt(self, source, seconds, offset=0.0):
        """`seconds` of a file or of a directory's files joined in sorted order."""
        files = [source] if os.path.isfile(source) else sorted(
            os.path.join(source, n) for n in os.listdir(source) if n.endswith(".wav"))
        out = self.path("excerpt")
        run(["sox", *files, out, "trim", str(offset), str(seconds)])
        return out

    def noise(self, seconds):
        out = self.path("noise")
        run(["sox", "-n", "-r", "16000", "-b", "16", out, "synth", str(seconds), "whitenoise", "vol", "0.3"])
        return out

    def silence(self, seconds):
        out = self.path("silence")
        run(["sox", "-n", "-r", "16000", "-b", "16", out, "trim", "0", str(seconds)])
        return out

    def generate(self, model, seconds, temperature, seed, speaker=None):
        out = self.path("generated")
        cmd = [self.fastwave, "generate", "-m", model, "-o", out, "--seconds", str(seconds),
               "--temperature", str(temperature), "--seed", str(seed)]
        if speaker is not None:
            cmd += ["--speaker", str(speaker)]
        run(cmd)
        return out


def row(name, result):
    a = result["audio"]
    return {"what": name, "frechet": result["log_mel_frechet_distance"],
            "silent": a["silent_fraction"], "voiced": a["voiced_fraction"],
            "flatness": a["spectral_flatness"], "f0_p5": a["pitch_p5_hz"],
            "f0_p95": a["pitch_p95_hz"], "dbfs": a["rms_dbfs"]}


def violin_rows(judge, model, data, seconds=8):
    test = os.path.join(data, "violin", "test")
    valid = os.path.join(data, "violin", "valid")
    rows = [row("real: another rendering (valid split)", judge.compare(judge.excerpt(valid, seconds, 10), test)),
            row("white noise", judge.compare(judge.noise(seconds), test)),
            row("silence", judge.compare(judge.silence(seconds), test))]
    for t in TEMPERATURES:
        rows.append(row(f"model, T={t}", judge.compare(judge.generate(model, seconds, t, 1), test)))
    return rows


def speech_rows(judge, model, data, speaker, seconds=6):
    root = os.path.join(data, "speech", "test")
    test = os.path.join(root, str(speaker))
    others = [row(f"real: speaker {k}", judge.compare(judge.excerpt(os.path.join(root, str(k)), seconds), test))
              for k in range(8) if k != speaker]
    median = statistics.median(r["frechet"] for r in others)
    closest = min(others, key=lambda r: r["frechet"])
    # The speaker's own real audio, cut into pieces the generated length: the range a
    # generated clip's statistics should fall in.
    own = [row("real: own test audio", judge.compare(judge.excerpt(test, seconds, offset), test))
           for offset in (0, seconds, 2 * seconds)]
    rows = [{**closest, "what": f"real: closest other speaker ({closest['what'][-1]})"},
            {"what": "real: other speakers, median", "frechet": median},
            *[{**r, "what": f"{r['what']} @{i * seconds}s"} for i, r in enumerate(own)],
            row("white noise", judge.compare(judge.noise(seconds), test)),
            row("silence", judge.compare(judge.silence(seconds), test))]
    for t in TEMPERATURES:
        rows.append(row(f"model, T={t}", judge.compare(judge.generate(model, seconds, t, 1, speaker), test)))
    return rows


def markdown(title, rows):
    def pct(x):
        return "" if x is None else f"{100 * x:.0f}%"
    lines = [f"**{title}**", "",
             "| audio | log-mel Frechet | silent | voiced | flatness | f0 p5-p95 Hz | level dBFS |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        level = r.get("dbfs")
        lines.append(f"| {r['what']} | {r['frechet']:,.0f} | {pct(r.get('silent'))} | {pct(r.get('voiced'))} | "
                     + (f"{r['flatness']:.3f}" if "flatness" in r else "") + " | "
                     + (f"{r['f0_p5']:.0f}-{r['f0_p95']:.0f}" if "f0_p5" in r else "") + " | "
                     + ("" if level is None else f"{level:.1f}") + " |")
    return "\n".join(lines) + "\n"


def speech_summary(tables):
    """One line per speaker: the model's best temperature against the real baselines."""
    lines = ["| speaker | Frechet: model (best T) | closest other speaker | ratio (target <= 2) | "
             "silent: model / real | voiced: model / real | level dBFS: model / real |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for title, rows in tables.items():
        if not title.startswith("speech"):
            continue
        speaker = title.split("speaker ")[1].split(":")[0]
        models = [r for r in rows if r["what"].startswith("model")]
        best = min(models, key=lambda r: r["frechet"])
        closest = next(r for r in rows if r["what"].startswith("real: closest"))
        own = [r for r in rows if r["what"].startswith("real: own")]

        def span(key, scale=100, fmt="{:.0f}"):
            values = [r[key] * scale for r in own]
            return fmt.format(min(values)) + " to " + fmt.format(max(values))
        lines.append(f"| {speaker} | {best['frechet']:,.0f} ({best['what'].split('=')[1]}) | {closest['frechet']:,.0f} | "
                     f"{best['frechet'] / closest['frechet']:.1f}x | {100 * best['silent']:.0f}% / {span('silent')}% | "
                     f"{100 * best['voiced']:.0f}% / {span('voiced')}% | {best['dbfs']:.1f} / "
                     f"{span('dbfs', 1, '{:.1f}')} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fastwave", default="build/fastwave")
    p.add_argument("--data", default="data")
    p.add_argument("--violin", default="models/violin.fwm")
    p.add_argument("--speech", default="models/speech.fwm")
    p.add_argument("--speakers", default="0,1,2,3,4,5,6,7")
    p.add_argument("--json")
    p.add_argument("--summary-from", help="only print the speech summary of an earlier --json")
    a = p.parse_args()
    if a.summary_from:
        with open(a.summary_from) as f:
            print(speech_summary(json.load(f)))
        return
    tables = {}
    with tempfile.TemporaryDirectory() as work:
        judge = Judge(a.fastwave, work)
        if a.violin:
            tables["violin: against the test rendering (8 s clips)"] = violin_rows(judge, a.violin, a.data)
            print(markdown(*list(tables.items())[-1]), flush=True)
        if a.speech:
            for k in (int(s) for s in a.speakers.split(",")):
                tables[f"speech, speaker {k}: against its test audio (6 s clips)"] = speech_rows(judge, a.speech, a.data, k)
                print(markdown(*list(tables.items())[-1]), flush=True)
    if a.speech:
        print(speech_summary(tables))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(tables, f, indent=1)


if __name__ == "__main__":
    main()
