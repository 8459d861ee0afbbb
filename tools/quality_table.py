#!/usr/bin/python3
"""Calibrated generation-quality table for the shipped models (docs/audio-quality.md).

For each model and reference set it runs `fastwave generate` (free-running, from silence)
and `fastwave compare`, next to the baselines that calibrate the log-mel Frechet distance:
a different real recording, white noise and silence, all of the same length.

    /usr/bin/python3 tools/quality_table.py [--fastwave build/fastwave] [--data data]
        [--violin models/violin.fwm] [--speech models/speech.fwm] [--json out.json]
        [--seeds 1,2,3] [--temperatures 0.9,1.0] [--baselines-from earlier.json]

One generated clip is a noisy measure of a model (its ratio moves between seeds and between
neighbouring checkpoints), so --seeds generates one clip per seed and the summary averages
the distances over them. The baselines (real, noise, silence) do not depend on the model:
--baselines-from takes them from an earlier --json of the same data, which makes comparing
checkpoints cheap (`tools/pick_checkpoint.py`).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TEMPERATURES = (0.8, 0.9, 1.0)
BASELINE_PREFIXES = ("real", "white noise", "silence")


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


def row(name, result, **extra):
    a = result["audio"]
    return {"what": name, **extra, "frechet": result["log_mel_frechet_distance"],
            "silent": a["silent_fraction"], "voiced": a["voiced_fraction"],
            "flatness": a["spectral_flatness"], "f0_p5": a["pitch_p5_hz"],
            "f0_p95": a["pitch_p95_hz"], "dbfs": a["rms_dbfs"]}


def model_rows(judge, model, test, seconds, temperatures, seeds, speaker=None):
    rows = []
    for t in temperatures:
        for seed in seeds:
            name = f"model, T={t}" + (f", seed {seed}" if len(seeds) > 1 else "")
            clip = judge.generate(model, seconds, t, seed, speaker)
            rows.append(row(name, judge.compare(clip, test), temperature=t, seed=seed))
    return rows


def violin_rows(judge, model, data, temperatures, seeds, baselines=None, seconds=8):
    test = os.path.join(data, "violin", "test")
    valid = os.path.join(data, "violin", "valid")
    rows = baselines or [
        row("real: another rendering (valid split)", judge.compare(judge.excerpt(valid, seconds, 10), test)),
        row("white noise", judge.compare(judge.noise(seconds), test)),
        row("silence", judge.compare(judge.silence(seconds), test))]
    return rows + model_rows(judge, model, test, seconds, temperatures, seeds)


def speech_rows(judge, model, data, speaker, temperatures, seeds, baselines=None, seconds=6):
    test = os.path.join(data, "speech", "test", str(speaker))
    rows = baselines or speech_baselines(judge, data, speaker, seconds)
    return rows + model_rows(judge, model, test, seconds, temperatures, seeds, speaker)


def speech_title(speaker):
    return f"speech, speaker {speaker}: against its test audio (6 s clips)"


def speech_tables(judge, model, data, speakers, temperatures, seeds, earlier=None, show=False):
    """One table per speaker, keyed by speech_title; baselines reused from `earlier` if given."""
    tables = {}
    for k in speakers:
        title = speech_title(k)
        base = baselines_of(earlier, title) if earlier else None
        tables[title] = speech_rows(judge, model, data, k, temperatures, seeds, base)
        if show:
            print(markdown(title, tables[title]), flush=True)
    return tables


def speech_baselines(judge, data, speaker, seconds):
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
    return [{**closest, "what": f"real: closest other speaker ({closest['what'][-1]})"},
            {"what": "real: other speakers, median", "frechet": median},
            *[{**r, "what": f"{r['what']} @{i * seconds}s"} for i, r in enumerate(own)],
            row("white noise", judge.compare(judge.noise(seconds), test)),
            row("silence", judge.compare(judge.silence(seconds), test))]


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


def temperature_of(r):
    if "temperature" in r:
        return r["temperature"]
    # JSON from before --seeds names the temperature only in "what": "model, T=0.9".
    return float(r["what"].split("=")[1].split(",")[0])


def speech_scores(tables):
    """Per speaker: the temperature whose clips are closest on average, and their statistics."""
    scores = {}
    for title, rows in tables.items():
        if not title.startswith("speech"):
            continue
        speaker = int(title.split("speaker ")[1].split(":")[0])
        by_t = {}
        for r in rows:
            if r["what"].startswith("model"):
                by_t.setdefault(temperature_of(r), []).append(r)
        t, clips = min(by_t.items(), key=lambda kv: statistics.mean(r["frechet"] for r in kv[1]))
        closest = next(r for r in rows if r["what"].startswith("real: closest"))["frechet"]
        own = [r for r in rows if r["what"].startswith("real: own")]
        scores[speaker] = {
            "temperature": t, "clips": len(clips), "closest": closest,
            "frechet": statistics.mean(r["frechet"] for r in clips),
            "ratio": statistics.mean(r["frechet"] for r in clips) / closest,
            "ratios": [r["frechet"] / closest for r in clips],
            **{key: statistics.mean(r[key] for r in clips) for key in ("silent", "voiced", "dbfs")},
            "own": {key: (min(r[key] for r in own), max(r[key] for r in own)) for key in ("silent", "voiced", "dbfs")}}
    return scores


def speech_summary(tables):
    """One line per speaker: the model's best temperature (mean over seeds) against the real baselines."""
    scores = speech_scores(tables)
    seeds = max((s["clips"] for s in scores.values()), default=1)
    over = f", mean of {seeds} seeds" if seeds > 1 else ""
    lines = [f"| speaker | Frechet: model (best T{over}) | closest other speaker | ratio (target <= 2) | "
             "silent: model / real | voiced: model / real | level dBFS: model / real |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for speaker, s in scores.items():
        def span(key, scale=100, fmt="{:.0f}"):
            low, high = s["own"][key]
            return fmt.format(low * scale) + " to " + fmt.format(high * scale)
        ratio = f"{s['ratio']:.1f}x"
        if s["clips"] > 1:
            ratio += f" ({min(s['ratios']):.1f}-{max(s['ratios']):.1f})"
        lines.append(f"| {speaker} | {s['frechet']:,.0f} (T={s['temperature']}) | {s['closest']:,.0f} | {ratio} | "
                     f"{100 * s['silent']:.0f}% / {span('silent')}% | {100 * s['voiced']:.0f}% / {span('voiced')}% | "
                     f"{s['dbfs']:.1f} / {span('dbfs', 1, '{:.1f}')} |")
    within = sum(s["ratio"] <= 2 for s in scores.values())
    lines.append(f"\n{within} of {len(scores)} speakers within 2x; median ratio "
                 f"{statistics.median(s['ratio'] for s in scores.values()):.2f}x")
    return "\n".join(lines) + "\n"


def baselines_of(tables, title):
    rows = tables.get(title)
    if rows is None:
        sys.exit(f"quality_table: the baselines file has no table '{title}'")
    return [r for r in rows if r["what"].startswith(BASELINE_PREFIXES)]


def floats(text):
    return [float(x) for x in text.split(",") if x]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fastwave", default="build/fastwave")
    p.add_argument("--data", default="data")
    p.add_argument("--violin", default="models/violin.fwm")
    p.add_argument("--speech", default="models/speech.fwm")
    p.add_argument("--speakers", default="0,1,2,3,4,5,6,7")
    p.add_argument("--seeds", default="1", help="one generated clip per seed and temperature")
    p.add_argument("--temperatures", default=",".join(map(str, TEMPERATURES)))
    p.add_argument("--baselines-from", help="reuse the real/noise/silence rows of an earlier --json")
    p.add_argument("--json")
    p.add_argument("--summary-from", help="only print the speech summary of an earlier --json")
    a = p.parse_args()
    if a.summary_from:
        with open(a.summary_from) as f:
            print(speech_summary(json.load(f)))
        return
    seeds = [int(x) for x in floats(a.seeds)]
    temperatures = floats(a.temperatures)
    if not seeds or not temperatures:
        sys.exit("quality_table: --seeds and --temperatures need at least one value each")
    earlier = None
    if a.baselines_from:
        with open(a.baselines_from) as f:
            earlier = json.load(f)
    tables = {}
    with tempfile.TemporaryDirectory() as work:
        judge = Judge(a.fastwave, work)
        if a.violin:
            title = "violin: against the test rendering (8 s clips)"
            base = baselines_of(earlier, title) if earlier else None
            tables[title] = violin_rows(judge, a.violin, a.data, temperatures, seeds, base)
            print(markdown(title, tables[title]), flush=True)
        if a.speech:
            speakers = [int(s) for s in a.speakers.split(",")]
            tables.update(speech_tables(judge, a.speech, a.data, speakers, temperatures, seeds, earlier, show=True))
    if a.speech:
        print(speech_summary(tables))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(tables, f, indent=1)


if __name__ == "__main__":
    main()
