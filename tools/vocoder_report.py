#!/usr/bin/python3
"""Measure a vocoder like a vocoder: copy synthesis of held-out speech (docs/vocoder.md).

For a vocoder model file it takes the first N test utterances of every speaker of the
synthetic speech set (metadata order) and the real clips, computes each one's log-mel once
(`fastwave mel`), resynthesises it with the model quantized to each scheme (`fastwave
vocode`, CPU time of every run measured), and reports per scheme and group (synthetic
speakers, real clips, all):

* `fastwave compare --paired`: log-spectral distance, mel-cepstral distortion and the
  log-mel Frechet distance of the resyntheses against their originals;
* word error rate of pocketsphinx on the resyntheses against the metadata text, beside
  its WER on the originals (the recogniser's own floor);
* the real-time factor: audio seconds / CPU seconds of `fastwave vocode`;

and, as a baseline that calibrates the distances, the same for white Gaussian noise of each
original's length and RMS level (scheme "noise"; --no-baseline leaves it out).

    /usr/bin/python3 tools/vocoder_report.py -m VOCODER.fwm [--out docs/vocoder]
        [--work build/vocoder_report] [--per-speaker 2] [--schemes float,int8-dynamic,int4]
        [--seed 0] [--temperature 1] [--no-wer] [--fastwave build/fastwave]

Writes OUT.csv (one row per scheme x group), OUT-table.md (the same as a markdown table) and
OUT.png (log spectrograms of one utterance: original, float and int8 resyntheses), each
atomically; per-utterance details (CPU seconds, hypotheses, WER) go to WORK/utterances.csv.
Run it under `nice`: every child process inherits it.
"""
import argparse
import csv
import hashlib
import io
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECTROGRAMS = os.path.join(ROOT, "tools", "spectrograms.py")
COLUMNS = ["scheme", "group", "clips", "seconds", "lsd_db", "mcd_db", "frechet", "wer", "wer_original",
           "wer_clips", "rtf", "cpu_seconds"]
FLOAT_NAMES = ("float", "f32")
BUDGET = "budget-"  # scheme "budget-1.3": fastwave quantize --budget-mb 1.3 --calib CALIB_AUDIO
NOISE = "noise"  # the baseline's scheme name


class Failure(Exception):
    """A one-line error for the user; main() prints it and exits 1."""


def run(cmd):
    """Runs a command; returns its stdout, or raises Failure with its last stderr line."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise Failure(f"{cmd[0]}: {e.strerror}")
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise Failure(f"{os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''} failed "
                      f"(exit {result.returncode}): {lines[-1] if lines else 'no message'}")
    return result.stdout


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wav_info(path):
    """(seconds, rate, channels, sample width) of a WAV file."""
    try:
        with wave.open(path) as w:
            return w.getnframes() / w.getframerate(), w.getframerate(), w.getnchannels(), w.getsampwidth()
    except (OSError, wave.Error, EOFError) as e:
        raise Failure(f"{path}: not a readable WAV file ({e})")


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_noise(original, out, seed):
    """White Gaussian noise with the original's length, rate and RMS level (the baseline)."""
    with wave.open(original) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        data = w.readframes(w.getnframes())
    if width != 2:
        raise Failure(f"{original}: only 16-bit PCM is supported for the noise baseline")
    x = np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768
    rms = math.sqrt(float(np.mean(x * x))) if len(x) else 0.0
    noise = np.random.default_rng(seed).standard_normal(len(x)) * rms
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(noise * 32768), -32768, 32767).astype("<i2").tobytes())


# ---------------------------------------------------------------- word error rate

def words(text):
    """Lowercase, punctuation stripped (apostrophes inside words kept), split on whitespace."""
    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("\u2019", "'"))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def word_edits(ref, hyp):
    """Levenshtein distance between two word lists (substitutions, insertions, deletions)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def recognise(path, work, sox):
    """pocketsphinx's hypothesis for a WAV file (converted to 16 kHz mono 16-bit if needed)."""
    _, rate, channels, width = wav_info(path)
    if (rate, channels, width) != (16000, 1, 2):
        if not sox:
            raise Failure(f"{path}: pocketsphinx needs 16 kHz mono 16-bit and sox is not installed to convert it")
        converted = os.path.join(work, "asr_input.wav")
        run([sox, path, "-r", "16000", "-c", "1", "-b", "16", converted])
        path = converted
    out = run(["pocketsphinx_continuous", "-infile", path, "-logfn", os.devnull])
    return " ".join(out.split())


# ---------------------------------------------------------------- selection

def read_metadata(path):
    if not os.path.isfile(path):
        raise Failure(f"no metadata file {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for name in ("speaker", "split", "path"):
        if rows and name not in rows[0]:
            raise Failure(f"{path}: no '{name}' column")
    base = os.path.dirname(os.path.abspath(path))
    for r in rows:
        r["path"] = os.path.join(base, r["path"])
    return rows


def select(speech_meta, real_meta, per_speaker, real_split):
    """The utterances: first `per_speaker` test rows of each speaker (metadata order), then the real clips."""
    chosen = []
    if speech_meta:
        taken = {}
        for r in read_metadata(speech_meta):
            if r["split"] == "test" and taken.get(r["speaker"], 0) < per_speaker:
                taken[r["speaker"]] = taken.get(r["speaker"], 0) + 1
                chosen.append(("synthetic", r))
        if not taken:
            raise Failure(f"{speech_meta}: no rows of split 'test'")
    if real_meta:
        real = [r for r in read_metadata(real_meta) if r["split"] == real_split]
        if not real:
            raise Failure(f"{real_meta}: no rows of split '{real_split}'")
        chosen += [("real", r) for r in real]
    if not chosen:
        raise Failure("no utterances selected (no --speech-meta and no --real-meta)")
    utterances = []
    for index, (group, r) in enumerate(chosen):
        if not os.path.isfile(r["path"]):
            raise Failure(f"missing audio file {r['path']}")
        stem = os.path.splitext(os.path.basename(r["path"]))[0]
        text = (r.get("text") or "").strip()
        utterances.append({"index": index, "group": group, "source": r["path"], "speaker": r["speaker"],
                           "name": f"{index:03d}_{stem}.wav", "text": text or None})
    return utterances


# ---------------------------------------------------------------- the report

def markdown(rows, a, model):
    def num(v, fmt):
        return "" if v is None or v == "" else format(v, fmt)

    with open(model, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    out = io.StringIO()
    out.write(f"Copy synthesis with `{model}` (sha256 {digest}..., seed {a.seed}, temperature {a.temperature}); "
              "distances against the originals"
              + ("" if a.no_wer else ", WER by pocketsphinx (en-us) against the metadata text")
              + ("" if a.no_baseline else "; the noise rows are white noise at each original's level (a baseline, "
                 "not a vocoder)") + ".\n\n")
    out.write("| scheme | group | clips | audio s | LSD dB | MCD dB | log-mel Fréchet | WER | WER of originals "
              "| real-time factor |\n")
    out.write("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for r in rows:
        wer = num(r["wer"], ".1%")
        if wer and r["wer_clips"] != r["clips"]:
            wer += f" ({r['wer_clips']} clips)"
        out.write(f"| {r['scheme']} | {r['group']} | {r['clips']} | {r['seconds']:.1f} | {num(r['lsd_db'], '.2f')} "
                  f"| {num(r['mcd_db'], '.2f')} | {num(r['frechet'], ',.0f')} | {wer} | {num(r['wer_original'], '.1%')} "
                  f"| {num(r['rtf'], '.3f')} |\n")
    return out.getvalue()


def spectrogram_png(path, utterance, panels, seconds):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp.png")
    os.close(fd)
    try:
        run([sys.executable, SPECTROGRAMS, "-o", tmp, "--seconds", str(seconds), "--columns", str(len(panels)),
             *[f"{title}={wav}" for title, wav in panels]])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-m", "--model", required=True, help="float vocoder model file (.fwm)")
    p.add_argument("--fastwave", default=os.path.join(ROOT, "build", "fastwave"))
    p.add_argument("--out", default="docs/vocoder", help="output prefix: OUT.csv, OUT-table.md, OUT.png")
    p.add_argument("--work", default="build/vocoder_report", help="work directory (audio, mels, models)")
    p.add_argument("--speech-meta", default="data/speech/metadata.csv", help="synthetic speakers ('' = none)")
    p.add_argument("--real-meta", default="data/realspeech/metadata.csv", help="real clips ('' = none)")
    p.add_argument("--real-split", default="eval")
    p.add_argument("--per-speaker", type=int, default=2, help="test utterances per synthetic speaker")
    p.add_argument("--schemes", default="float,int8-dynamic,int4",
                   help="comma-separated: float (the model as given), a fastwave quantize --scheme, or budget-MB "
                        "(per-layer widths fitted to MB MiB by --budget-mb, calibrated on --calib-audio)")
    p.add_argument("--calib-audio", default="data/speech/valid",
                   help="WAV file or directory the budget schemes calibrate on (not the test audio)")
    p.add_argument("--seed", default="0")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--no-wer", action="store_true", help="skip pocketsphinx (otherwise it is required)")
    p.add_argument("--no-baseline", action="store_true",
                   help="leave out the baseline rows (white noise at each original's level, scheme 'noise')")
    p.add_argument("--png-utterance", type=int, default=0, help="index (selection order) of the utterance plotted")
    p.add_argument("--png-seconds", type=float, default=6.0)
    a = p.parse_args()

    try:
        return report(a)
    except Failure as e:
        print(f"vocoder_report: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # unwritable work or output directory, full disk, ...
        print(f"vocoder_report: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vocoder_report: interrupted", file=sys.stderr)
        return 1


def report(a):
    # Everything checked before any work starts.
    if not os.path.isfile(a.model):
        raise Failure(f"no model file {a.model}")
    if not (os.path.isfile(a.fastwave) and os.access(a.fastwave, os.X_OK)):
        raise Failure(f"no fastwave binary at {a.fastwave} (build it, or pass --fastwave)")
    if not a.no_wer and not shutil.which("pocketsphinx_continuous"):
        raise Failure("pocketsphinx_continuous not found (apt-get install pocketsphinx pocketsphinx-en-us, or --no-wer)")
    if a.per_speaker < 1:
        raise Failure("--per-speaker must be at least 1")
    schemes = [s.strip() for s in a.schemes.split(",") if s.strip()]
    if not schemes or len(set(schemes)) != len(schemes) or NOISE in schemes:
        raise Failure(f"--schemes '{a.schemes}': give distinct schemes ('{NOISE}' is the baseline's name)")
    for s in schemes:
        if s.startswith(BUDGET):
            try:
                if float(s[len(BUDGET):]) <= 0:
                    raise ValueError
            except ValueError:
                raise Failure(f"--schemes: '{s}' needs a size in MiB, e.g. {BUDGET}1.5")
            if not os.path.exists(a.calib_audio):
                raise Failure(f"--calib-audio {a.calib_audio}: no such file or directory (the budget schemes need it)")
    rows_of = schemes + ([] if a.no_baseline else [NOISE])
    utterances = select(a.speech_meta, a.real_meta, a.per_speaker, a.real_split)
    if not 0 <= a.png_utterance < len(utterances):
        raise Failure(f"--png-utterance {a.png_utterance}: there are {len(utterances)} utterances")
    sox = shutil.which("sox")
    groups = [g for g in ("synthetic", "real") if any(u["group"] == g for u in utterances)]

    work = os.path.abspath(a.work)
    for sub in ["original", "mel", "models"] + rows_of:
        shutil.rmtree(os.path.join(work, sub), ignore_errors=True)
        os.makedirs(os.path.join(work, sub))

    # The models, one per scheme.
    models = {}
    for s in schemes:
        if s in FLOAT_NAMES:
            models[s] = os.path.abspath(a.model)
        else:
            models[s] = os.path.join(work, "models", f"{s}.fwm")
            if s.startswith(BUDGET):  # per-layer widths fitted to a size, calibrated on held-out audio
                run([a.fastwave, "quantize", a.model, "-o", models[s], "--budget-mb", s[len(BUDGET):],
                     "--calib", a.calib_audio])
            else:
                run([a.fastwave, "quantize", a.model, "-o", models[s], "--scheme", s])
        print(f"model {s}: {models[s]} ({os.path.getsize(models[s]) / 2**20:.2f} MiB)", file=sys.stderr)

    # Originals copied under names that sort in selection order, in each group's directory,
    # and every scheme's resyntheses under the same names: `compare --paired` pairs them up.
    details = []
    for u in utterances:
        original = os.path.join(work, "original", u["group"], u["name"])
        os.makedirs(os.path.dirname(original), exist_ok=True)
        shutil.copyfile(u["source"], original)
        u["original"] = original
        u["seconds"] = wav_info(original)[0]
        mel = os.path.join(work, "mel", u["name"][:-4] + ".npy")
        run([a.fastwave, "mel", original, "-m", a.model, "-o", mel, "-q"])
        line = [f"[{u['index'] + 1}/{len(utterances)}] {u['group']} {u['name']} ({u['seconds']:.1f} s)"]
        original_wer = None
        if not a.no_wer and u["text"]:
            ref = words(u["text"])
            hyp = recognise(original, work, sox)
            original_wer = (word_edits(ref, words(hyp)), len(ref))
            details.append({"utterance": u["name"], "group": u["group"], "scheme": "original",
                            "seconds": round(u["seconds"], 3), "cpu_seconds": "", "word_edits": original_wer[0],
                            "ref_words": len(ref), "text": u["text"], "hypothesis": hyp})
            line.append(f"original WER {original_wer[0]}/{len(ref)}")
        u["original_wer"] = original_wer
        u["resynth"] = {}
        for s in rows_of:
            out = os.path.join(work, s, u["group"], u["name"])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            if s == NOISE:
                write_noise(original, out, u["index"])
                cpu, piece = None, s
            else:
                before = children_cpu_seconds()
                run([a.fastwave, "vocode", "-m", models[s], "--mel", mel, "-o", out, "--seed", str(a.seed),
                     "--temperature", repr(a.temperature), "-q"])
                cpu = children_cpu_seconds() - before
                piece = f"{s} {cpu:.1f} s CPU"
            seconds = wav_info(out)[0]
            result = {"path": out, "cpu": cpu, "seconds": seconds, "wer": None}
            detail = {"utterance": u["name"], "group": u["group"], "scheme": s, "seconds": round(seconds, 3),
                      "cpu_seconds": "" if cpu is None else round(cpu, 3), "word_edits": "", "ref_words": "",
                      "text": u["text"] or "", "hypothesis": ""}
            if original_wer is not None:
                ref = words(u["text"])
                hyp = recognise(out, work, sox)
                result["wer"] = (word_edits(ref, words(hyp)), len(ref))
                detail.update(word_edits=result["wer"][0], ref_words=len(ref), hypothesis=hyp)
                piece += f", WER {result['wer'][0]}/{len(ref)}"
            u["resynth"][s] = result
            details.append(detail)
            line.append(piece)
        print("; ".join(line), file=sys.stderr, flush=True)

    # Distances per scheme and group, with `fastwave compare --paired`.
    rows = []
    for s in rows_of:
        for g in groups + (["all"] if len(groups) > 1 else []):
            chosen = [u for u in utterances if g == "all" or u["group"] == g]
            json_path = os.path.join(work, s, f"compare_{g}.json")
            run([a.fastwave, "compare", *[u["resynth"][s]["path"] for u in chosen], "--ref",
                 *[u["original"] for u in chosen], "--paired", "--json", json_path])
            with open(json_path) as f:
                c = json.load(f)
            paired = c.get("paired") or {}
            if paired.get("pairs") != len(chosen):
                raise Failure(f"compare paired {paired.get('pairs')} clips of {len(chosen)} ({json_path})")
            seconds = sum(u["resynth"][s]["seconds"] for u in chosen)
            cpu = None if s == NOISE else sum(u["resynth"][s]["cpu"] for u in chosen)
            scored = [u for u in chosen if u["resynth"][s]["wer"] is not None]
            ref_words = sum(u["original_wer"][1] for u in scored)
            rows.append({
                "scheme": s, "group": g, "clips": len(chosen), "seconds": round(seconds, 3),
                "lsd_db": paired.get("log_spectral_distance_db"), "mcd_db": paired.get("mel_cepstral_distortion_db"),
                "frechet": c.get("log_mel_frechet_distance"),
                "wer": sum(u["resynth"][s]["wer"][0] for u in scored) / ref_words if ref_words else None,
                "wer_original": sum(u["original_wer"][0] for u in scored) / ref_words if ref_words else None,
                "wer_clips": len(scored),
                "rtf": seconds / cpu if cpu else None, "cpu_seconds": None if cpu is None else round(cpu, 3)})
    for r in rows:
        for k in ("lsd_db", "mcd_db", "frechet"):
            if r[k] is not None and not math.isfinite(r[k]):
                print(f"vocoder_report: warning: {r['scheme']}/{r['group']} {k} is {r[k]}", file=sys.stderr)

    def csv_text(fields, records):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for rec in records:
            w.writerow({k: ("" if rec[k] is None else (f"{rec[k]:.6g}" if isinstance(rec[k], float) else rec[k]))
                        for k in fields})
        return buf.getvalue()

    write_atomically(os.path.join(work, "utterances.csv"),
                     csv_text(["utterance", "group", "scheme", "seconds", "cpu_seconds", "word_edits", "ref_words",
                               "text", "hypothesis"], details))
    write_atomically(a.out + ".csv", csv_text(COLUMNS, rows))
    write_atomically(a.out + "-table.md", markdown(rows, a, a.model))  # not OUT.md: docs/vocoder.md is the prose

    u = utterances[a.png_utterance]
    second = next((s for s in schemes if s.startswith("int8")), schemes[1] if len(schemes) > 1 else None)
    panels = [(f"original: {u['name'][4:]}", u["original"])]
    panels += [(f"{s} resynthesis", u["resynth"][s]["path"]) for s in dict.fromkeys([schemes[0], second]) if s]
    spectrogram_png(a.out + ".png", u, panels, a.png_seconds)
    print(f"wrote {a.out}.csv, {a.out}-table.md, {a.out}.png; per utterance: {os.path.join(work, 'utterances.csv')}",
          file=sys.stderr)
    sys.stdout.write(markdown(rows, a, a.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
