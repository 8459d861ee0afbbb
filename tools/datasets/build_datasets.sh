#!/usr/bin/env bash
# Deterministic dataset builder for fastwave WaveNet training.
#
#   bash tools/datasets/build_datasets.sh [OUT_DIR]      (default: data/)
#
# Builds, from Debian packages only (no other network access):
#   OUT_DIR/violin/{train,valid,test}/*.wav + metadata.csv
#   OUT_DIR/speech/{train,valid,test}/<speaker>/*.wav + metadata.csv
#   OUT_DIR/realspeech/*.wav + metadata.csv      (evaluation only)
#   OUT_DIR/summary.txt                           (minutes per split)
# All audio is 16 kHz mono 16-bit PCM WAV, peak-normalised to -1 dBFS, and
# byte-identical on every rebuild.  See docs/datasets.md.
#
# Environment: JOBS (parallel workers, default nproc), FORCE=1 (rebuild even
# if a dataset's stamp says it is up to date).
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC
umask 022

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
HERE="$(dirname "$SELF")"
PY=/usr/bin/python3
MIDI_TOOL="$HERE/midi_tool.py"
DS_TOOL="$HERE/dataset_tool.py"

DATASETS_START=${DATASETS_START:-$(date +%s)}
export DATASETS_START
log() { printf '[datasets %4ds] %s\n' "$(($(date +%s) - DATASETS_START))" "$*" >&2; }
die() { printf '[datasets] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Workers (run through xargs -P; one tab-separated job line per call).

# to_pcm16 IN OUT: 16 kHz mono 16-bit, peak -1 dBFS.  -R: sox's "repeatable"
# mode; -D: no dither at all (deterministic, and the float->16 bit step of a
# normalised signal does not need it for training data).
to_pcm16() {
  local in="$1" out="$2" tmp="${2%.wav}.part.wav"
  sox -V1 -R -D "$in" -b 16 -e signed-integer "$tmp" remix - rate -h 16k gain -n -1
  mv -f "$tmp" "$out"
}

worker_render() {  # soundfont <TAB> midi <TAB> out.wav
  local sf midi out raw
  IFS=$'\t' read -r sf midi out <<<"$1"
  mkdir -p "$(dirname "$out")"
  raw="${out%.wav}.raw.wav"
  # 32-bit float output: no fluidsynth dither; 44.1 kHz then sox resamples.
  fluidsynth -n -i -q -F "$raw" -T wav -O float -r 44100 -g 0.5 \
    -o synth.cpu-cores=1 "$sf" "$midi" >/dev/null
  to_pcm16 "$raw" "$out"
  rm -f "$raw"
  printf '[datasets]   violin %s\n' "${out#"$STAGE_ROOT"/}" >&2
}

worker_synth() {  # engine <TAB> voice <TAB> textfile <TAB> out.wav
  local engine voice text out raw
  IFS=$'\t' read -r engine voice text out <<<"$1"
  mkdir -p "$(dirname "$out")"
  raw="${out%.wav}.raw.wav"
  case "$engine" in
    flite) flite -voice "$voice" -f "$text" -o "$raw" ;;
    espeak-ng) espeak-ng -v "$voice" -f "$text" -w "$raw" ;;
    *) die "unknown engine $engine" ;;
  esac
  to_pcm16 "$raw" "$out"
  rm -f "$raw"
}

worker_convert() {  # in <TAB> out.wav
  local in out
  IFS=$'\t' read -r in out <<<"$1"
  mkdir -p "$(dirname "$out")"
  to_pcm16 "$in" "$out"
}

if [[ "${1:-}" == __worker ]]; then
  fn="$2"; shift 2
  for job in "$@"; do "worker_$fn" "$job"; done
  exit 0
fi

# run_jobs NAME JOBFILE: run every line of JOBFILE through worker_NAME.
run_jobs() {
  local n
  n=$(grep -c . "$2" || true)
  log "  $n $1 jobs on $JOBS workers"
  STAGE_ROOT="$STAGE_ROOT" xargs -d '\n' -a "$2" -r -n 8 -P "$JOBS" \
    bash "$SELF" __worker "$1"
}

# ---------------------------------------------------------------------------
# Arguments, packages.

OUT="${1:-data}"
[[ $# -le 1 ]] || die "usage: bash tools/datasets/build_datasets.sh [OUT_DIR]"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
FORCE="${FORCE:-0}"

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

PACKAGES=(sox flite espeak-ng lilypond fluidsynth fluid-soundfont-gm
          timgm6mb-soundfont bible-kjv abcmidi pocketsphinx-testdata
          python3 dpkg)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  if ! $SUDO "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
    $SUDO "${APT[@]}" update -q
    $SUDO "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
for c in sox flite espeak-ng lilypond fluidsynth abc2midi bible dpkg-deb; do
  command -v "$c" >/dev/null || die "$c not found after installing packages"
done
[[ -x $PY ]] || die "$PY not found"
SF_FLUID=/usr/share/sounds/sf2/FluidR3_GM.sf2
SF_TIM=/usr/share/sounds/sf2/TimGM6mb.sf2
PS_DATA=/usr/share/pocketsphinx/test/data
ABC_DIR=/usr/share/doc/abcmidi/examples
for f in "$SF_FLUID" "$SF_TIM" "$PS_DATA/librivox/transcription"; do
  [[ -e $f ]] || die "missing $f"
done

mkdir -p "$OUT"
OUT="$(readlink -f "$OUT")"
WORK="$(mktemp -d "$OUT/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT/.stamps" "$OUT/.cache"

# A dataset is rebuilt when its recipe changes: this script, the helpers, and
# the versions of the packages its output depends on.
pkgver() { dpkg-query -W -f='${Package}=${Version}\n' "$@"; }
recipe() {  # recipe DATASET PACKAGES...
  local ds="$1"; shift
  { echo "dataset=$ds"; sha256sum "$SELF" "$MIDI_TOOL" "$DS_TOOL" | cut -d' ' -f1
    pkgver sox libsox3 "$@"; } | sha256sum | cut -d' ' -f1
}
up_to_date() {  # up_to_date DATASET RECIPE
  [[ $FORCE != 1 && -f "$OUT/$1/metadata.csv" && -f "$OUT/.stamps/$1" ]] &&
    [[ "$(cat "$OUT/.stamps/$1")" == "$2" ]]
}
# publish DATASET RECIPE: move the finished staging dir into place.
publish() {
  local ds="$1"
  rm -rf "$OUT/.old-$ds"
  if [[ -e "$OUT/$ds" ]]; then mv "$OUT/$ds" "$OUT/.old-$ds"; fi
  mv "$STAGE_ROOT" "$OUT/$ds"
  rm -rf "$OUT/.old-$ds"
  printf '%s\n' "$2" >"$OUT/.stamps/$ds.part"
  mv -f "$OUT/.stamps/$ds.part" "$OUT/.stamps/$ds"
}

# ---------------------------------------------------------------------------
# 1. Violin: Bach, Cello Suite II, Sarabande (BWV 1008) from the LilyPond
#    documentation, rendered as GM violin; plus abcmidi's fiddle-tune examples.

# Sarabande renderings.  Transposition t is in semitones relative to two
# octaves above the cello original (t=0: D minor, lowest note C4), which keeps
# every transposition in -5..+7 inside the violin's range (G3 and up).
TRAIN_TEMPI=(46 54 60 69 80)         # quarter notes per minute
TRANSPOSE=(-5 -4 -3 -2 -1 0 1 2 3 4 5 6 7)
VALID_RENDER="fluidr3 63 1"          # soundfont tempo transpose
TEST_RENDER="timgm6mb 72 4"
# abcmidi example tunes used (file:X number); train only.
ABC_TUNES=(araber:47 baym_rebin:63 boys:3 coleraine:8 dergasn:145 demo:1
           demo:2 demo:3 demo:5 demo:6 demo:8 demo:10)
TAIL_BEATS=2                          # keep release/reverb of the last note

sf_path() { case "$1" in fluidr3) echo "$SF_FLUID" ;; timgm6mb) echo "$SF_TIM" ;; esac; }
sf_name() { case "$1" in fluidr3) echo FluidR3_GM ;; timgm6mb) echo TimGM6mb ;; esac; }
tname() { if (($1 < 0)); then echo "m$((-$1))"; else echo "p$1"; fi; }
# LilyPond pitch that is 24+t semitones above c (c = C3): \transpose c <that>
ly_pitch() {
  local n=$((24 + $1)) names=(c cis d es e f fis g as a bes b) oct=""
  local i
  for ((i = 0; i < n / 12; i++)); do oct+="'"; done
  echo "${names[n % 12]}$oct"
}

find_sarabande() {
  local deb dir ly lyver debs
  # lilypond-doc-html is built from the same source as lilypond: prefer the
  # cached .deb of the installed lilypond version, else download one.
  lyver=$(dpkg-query -W -f='${Version}' lilypond)
  deb="$OUT/.cache/lilypond-doc-html_${lyver//:/%3a}_all.deb"
  if [[ ! -f $deb ]]; then
    log "  fetching lilypond-doc-html with apt-get download (not installed)"
    local opts=()
    if [[ $(id -u) -eq 0 ]]; then opts=(-o APT::Sandbox::User=root); fi
    if ! (cd "$WORK" && "${APT[@]}" "${opts[@]}" download lilypond-doc-html >/dev/null); then
      $SUDO "${APT[@]}" update -q
      (cd "$WORK" && "${APT[@]}" "${opts[@]}" download lilypond-doc-html >/dev/null)
    fi
    debs=("$WORK"/lilypond-doc-html_*.deb)
    [[ -f ${debs[0]} ]] || die "apt-get download lilypond-doc-html produced no .deb"
    rm -f "$OUT"/.cache/lilypond-doc-html_*.deb
    deb="$OUT/.cache/$(basename "${debs[0]}")"
    mv -f "${debs[0]}" "$deb"
  fi
  dir="$WORK/lilypond-doc-html"
  dpkg -x "$deb" "$dir"
  ly=$(grep -rl --include='*.ly' 'baerenreiter-sarabande\.ly' "$dir" | LC_ALL=C sort | head -n 1 || true)
  [[ -n $ly ]] || die "baerenreiter-sarabande.ly not found in $(basename "$deb")"
  log "  sarabande source: ${ly#"$dir"}"
  # Keep the snippet's music definitions: from \sourcefilename to \book
  # (the snippet's own \book only has the layout/paper set-up), without the
  # volta repeats (articulate.ly would unfold them: identical audio twice).
  awk '/^\\sourcefilename/ {p = 1; next} /^\\book/ {p = 0} p' "$ly" |
    grep -v '^\\sourcefileline' |
    sed 's/\\repeat "volta" 2//' >"$WORK/sarabande-body.ly"
  grep -q 'sarabandeCelloStaff =' "$WORK/sarabande-body.ly" ||
    die "unexpected sarabande snippet layout"
}

build_violin() {
  local rec
  rec=$(recipe violin lilypond fluidsynth fluid-soundfont-gm timgm6mb-soundfont abcmidi)
  if up_to_date violin "$rec"; then log "violin: up to date (FORCE=1 rebuilds)"; return; fi
  log "violin: building"
  STAGE_ROOT="$WORK/stage-violin"
  mkdir -p "$STAGE_ROOT" "$WORK/midi"
  find_sarabande

  # Plan: "sf tempo transpose split" lines.
  local plan=() si sf t ti
  si=0
  for sf in fluidr3 timgm6mb; do
    for t in "${TRANSPOSE[@]}"; do
      ti=$(((t + 5 + 2 * si) % ${#TRAIN_TEMPI[@]}))
      plan+=("$sf ${TRAIN_TEMPI[ti]} $t train")
    done
    si=$((si + 1))
  done
  plan+=("$VALID_RENDER valid" "$TEST_RENDER test")

  # One LilyPond run writes one MIDI file per (tempo, transposition).
  local ly="$WORK/midi/sarabande.ly" line tempo split name mid
  {
    printf '%s\n' '\version "2.24.0"' '\include "articulate.ly"' \
      "\\include \"$WORK/sarabande-body.ly\""
  } >"$ly"
  declare -A seen=()
  for line in "${plan[@]}"; do
    read -r sf tempo t split <<<"$line"
    name=$(printf 'sarabande_q%03d_t%s' "$tempo" "$(tname "$t")")
    [[ -z ${seen[$name]:-} ]] || continue
    seen[$name]=1
    printf '\\book { \\bookOutputName "%s"\n  \\score { \\articulate \\transpose c %s \\sarabandeCelloStaff\n    \\midi { \\tempo 4 = %d \\context { \\Staff midiInstrument = "violin" } } } }\n' \
      "$name" "$(ly_pitch "$t")" "$tempo" >>"$ly"
  done
  log "  lilypond: ${#seen[@]} MIDI files"
  (cd "$WORK/midi" && lilypond -s "$ly") || die "lilypond failed"

  local jobs="$WORK/violin.jobs" manifest="$WORK/violin.manifest.tsv" rel
  : >"$jobs"; : >"$manifest"
  for line in "${plan[@]}"; do
    read -r sf tempo t split <<<"$line"
    name=$(printf 'sarabande_q%03d_t%s' "$tempo" "$(tname "$t")")
    mid="$WORK/midi/$name.mid"
    [[ -f $mid ]] || $PY "$MIDI_TOOL" violin "$WORK/midi/$name.midi" "$mid" 40 "$TAIL_BEATS"
    rel="$split/$(printf 'sarabande_%s_q%03d_t%s.wav' "$sf" "$tempo" "$(tname "$t")")"
    printf '%s\t%s\t%s\n' "$(sf_path "$sf")" "$mid" "$STAGE_ROOT/$rel" >>"$jobs"
    printf 'violin\t\tfluidsynth\t%s\t%s\t%s\t%s\n' "$(sf_name "$sf")" "$split" "$rel" \
      "$(printf 'sarabande bwv1008 tempo=%d transpose=%+d' "$tempo" "$t")" >>"$manifest"
  done

  # abcmidi example tunes: melody only (no guitar chords, no drums), program
  # 40, native tempo and key, both soundfonts.
  local tune file x abc title
  for tune in "${ABC_TUNES[@]}"; do
    file=${tune%%:*}; x=${tune##*:}
    abc="$ABC_DIR/$file.abc"
    [[ -f $abc ]] || { log "  (skipping $file.abc: not found)"; continue; }
    mkdir -p "$WORK/abc"
    cp "$abc" "$WORK/abc/$file.abc"
    name="abc_${file}_x$x"
    (cd "$WORK/abc" && abc2midi "$file.abc" "$x" -NGUI -silent -o "$name.raw.mid" >/dev/null) ||
      die "abc2midi failed for $file.abc X:$x"
    $PY "$MIDI_TOOL" violin "$WORK/abc/$name.raw.mid" "$WORK/abc/$name.mid" 40 "$TAIL_BEATS"
    title=$(awk -v x="$x" '
      /^X:/ { s = $0; sub(/^X:[ \t]*/, "", s); cur = (s + 0 == x + 0) ; next }
      cur && /^T:/ { s = $0; sub(/^T:[ \t]*/, "", s); gsub(/[ \t]+/, " ", s); sub(/ $/, "", s); print s; exit }' "$abc")
    for sf in fluidr3 timgm6mb; do
      rel="train/${name}_$sf.wav"
      printf '%s\t%s\t%s\n' "$(sf_path "$sf")" "$WORK/abc/$name.mid" "$STAGE_ROOT/$rel" >>"$jobs"
      printf 'violin\t\tfluidsynth\t%s\ttrain\t%s\t%s\n' "$(sf_name "$sf")" "$rel" \
        "abc $file.abc X:$x \"$title\" tempo=native transpose=+0" >>"$manifest"
    done
  done

  run_jobs render "$jobs"
  $PY "$DS_TOOL" metadata "$STAGE_ROOT" "$manifest"
  publish violin "$rec"
  log "violin: done"
}

# ---------------------------------------------------------------------------
# 2. Speech: eight synthetic speakers reading the KJV (see dataset_tool.py).
build_speech() {
  local rec
  rec=$(recipe speech flite espeak-ng espeak-ng-data bible-kjv bible-kjv-text)
  if up_to_date speech "$rec"; then log "speech: up to date (FORCE=1 rebuilds)"; return; fi
  log "speech: building"
  STAGE_ROOT="$WORK/stage-speech"
  mkdir -p "$STAGE_ROOT"
  $PY "$DS_TOOL" speech-plan "$WORK" "$STAGE_ROOT"
  run_jobs synth "$WORK/speech.jobs"
  $PY "$DS_TOOL" metadata "$STAGE_ROOT" "$WORK/speech.manifest.tsv"
  publish speech "$rec"
  log "speech: done"
}

# ---------------------------------------------------------------------------
# 3. Real speech (evaluation only): pocketsphinx-testdata recordings.
build_realspeech() {
  local rec
  rec=$(recipe realspeech pocketsphinx-testdata)
  if up_to_date realspeech "$rec"; then log "realspeech: up to date (FORCE=1 rebuilds)"; return; fi
  log "realspeech: building"
  STAGE_ROOT="$WORK/stage-realspeech"
  mkdir -p "$STAGE_ROOT"
  $PY "$DS_TOOL" realspeech-plan "$PS_DATA" "$WORK" "$STAGE_ROOT"
  run_jobs convert "$WORK/realspeech.jobs"
  $PY "$DS_TOOL" metadata "$STAGE_ROOT" "$WORK/realspeech.manifest.tsv"
  publish realspeech "$rec"
  log "realspeech: done"
}

build_violin
build_speech
build_realspeech

log "summary (also in $OUT/summary.txt):"
$PY "$DS_TOOL" summary "$OUT"
log "finished in $(($(date +%s) - DATASETS_START)) s; output in $OUT"
