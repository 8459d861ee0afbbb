#!/usr/bin/env bash
# Every number and plot of docs/benchmarks.md, in one command: fastwave bench over schemes,
# ISAs and methods, the depth sweep, streams and threads, quality against size, where the
# time goes (perf), and the side-by-side with PyTorch. Single-thread points run pinned to
# one core (taskset -c $CORE); the streams x threads sweep gets two cores.
#
#   bash scripts/benchmarks.sh [OUT_DIR]   (default build/benchmarks; plots go to docs/)
#   env: FASTWAVE (a built binary; default: build into build-bench/), CORE (0), CORES (0,1),
#        DATA (data/, for the quality points: data/violin/{valid,test}), PLOTS (docs),
#        DOC (docs/benchmarks.md, filled from scripts/benchmarks.md.in)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
out="${1:-build/benchmarks}" core="${CORE:-0}" cores="${CORES:-0,1}" data="${DATA:-data}" plots="${PLOTS:-docs}"
fw="$(bench_binary "${FASTWAVE:-}")"
mkdir -p "$out"
one() { taskset -c "$core" "$fw" "$@"; }
model=models/violin.fwm
schemes=f32,bf16,int8-dynamic,int8-static,int4

echo "== machine"
{
  date -u; lscpu; getconf -a | grep -E "CACHE_SIZE"; echo; uname -srm
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  # Whatever else is using the shared machine (the report says the run was loaded).
  ps -eo pcpu,args --sort=-pcpu | awk 'NR > 1 && $1 >= 10 && !/ps -eo/' | head -5 | cut -c1-120 | sed 's/^/busy: /'
} > "$out/machine.txt"
grep -E "Model name|^CPU\(s\)|CPU family|CACHE_SIZE|^load|^busy" "$out/machine.txt"

echo "== schemes x ISA x method ($model, 1 thread, core $core)"
one bench -m "$model" --schemes "$schemes" --isa avx2,avx512 --methods fast,naive --naive-samples 4 \
  -n 16000 --runs 5 --json "$out/schemes.json" --markdown "$out/schemes.md"
echo "== the scalar reference kernels (fast path)"
one bench -m "$model" --schemes f32,int8-dynamic --isa ref -n 2000 --runs 3 --json "$out/ref.json" --markdown "$out/ref.md"

echo "== naive vs fast against depth (random 2 x L, the fast-wavenet paper's experiment)"
one bench --sweep layers=4..14 --naive-samples 2 -n 8000 --runs 3 --json "$out/layers.json" --markdown "$out/layers.md"

echo "== streams x threads (cores $cores)"
taskset -c "$cores" "$fw" bench -m "$model" --schemes f32,int8-dynamic --sweep streams=1,2,4,...,64 \
  --sweep threads=1,2 -n 2000 --runs 3 --json "$out/streams.json" --markdown "$out/streams.md"

quality=() rows=("$out/schemes.json" "$out/ref.json" "$out/layers.json" "$out/streams.json")
if [ -d "$data/violin/test" ] && [ -d "$data/violin/valid" ]; then
  echo "== quality against size (violin, first 10 s of the test rendering; int8-static calibrated on 10 s of valid)"
  for scheme in bf16 int8-dynamic int8-static int4 mixed; do
    q="$out/violin.$scheme.fwm"
    case "$scheme" in
      mixed) one quantize "$model" -o "$q" --scheme int8-dynamic --layer-scheme 0-9=int4 | tail -1 ;;
      *) one quantize "$model" -o "$q" --scheme "$scheme" --calib "$data/violin/valid" --calib-seconds 10 | tail -1 ;;
    esac
    one eval -m "$q" --ref "$model" --dir "$data/violin/test" --max-seconds 10 --json "$out/violin.$scheme.eval.json" |
      grep TOTAL | sed "s/^/$scheme: /"
    quality+=(--quality "$out/violin.$scheme.eval.json:$q")
  done
  quality+=(--reference "$model")
  echo "== a mixed model from its file (-m): int8-dynamic with layers 0-9 in int4"
  one bench -m "$out/violin.mixed.fwm" --methods fast -n 16000 --runs 5 --json "$out/mixed.json" --markdown "$out/mixed.md"
  rows+=("$out/mixed.json")
else
  echo "(no $data/violin: skipping quality against size; build it with bash tools/datasets/build_datasets.sh)"
fi

kernels="$(dirname "$fw")/bench/kernels_bench"
if [ -x "$kernels" ]; then
  echo "== each matrix alone, weights hot in cache (bench/kernels_bench, avx512 and OpenBLAS)"
  taskset -c "$core" "$kernels" --benchmark_filter='(avx512|openblas)$' 2>/dev/null | tee "$out/kernels.txt"
fi

bound="$(dirname "$fw")/bench/gemv_bound"
if [ -x "$bound" ]; then
  echo "== the batch-1 bound beside the fast step on the same Network (bench/gemv_bound, docs/speed.md)"
  for scheme in f32 bf16 int8-dynamic int4; do
    taskset -c "$core" "$bound" "$model" --scheme "$scheme" --seconds 2
  done | tee "$out/gemv_bound.txt"
fi

if command -v perf >/dev/null; then
  echo "== memory: glibc memcpy of an L2-sized block, of the f32 weights' size, and of a DRAM-sized one (perf bench)"
  for size in 512KB 2700KB 64MB; do
    echo "memcpy $size: $(taskset -c "$core" perf bench mem memcpy -s "$size" -l 2000 -f default 2>/dev/null | awk '/sec/ { print $1, $2 }')"
  done | tee "$out/memcpy.txt"
fi

echo "== where the time goes (perf record, fast path, 1 thread)"
for scheme in f32 int8-dynamic; do
  taskset -c "$core" perf record -q -F 999 -o "$out/perf.$scheme.data" "$fw" bench -m "$model" --schemes "$scheme" \
    -n 16000 --runs 3 >/dev/null 2>&1 || { echo "(perf record failed; skipping)"; break; }
  perf report -i "$out/perf.$scheme.data" --no-children --sort symbol --stdio 2>/dev/null |
    awk 'n < 12 && /^ +[0-9.]+%/ { sub(/[ -]+$/, ""); print; n++ }' | tee "$out/perf.$scheme.txt" | sed "s/^/$scheme: /"
done

echo "== against PyTorch (bench/compare_pytorch.sh, core $core)"
CORE="$core" WORKDIR="$out/compare_pytorch" JSON="$out/compare_pytorch.json" LAYERS=4,6,8,10,12 \
  bash bench/compare_pytorch.sh "$fw" |
  tee "$out/compare_pytorch.txt"

echo "== plots"
/usr/bin/python3 tools/plot_bench.py "${rows[@]}" "${quality[@]}" --out "$plots"
echo "== docs/benchmarks.md"
/usr/bin/python3 tools/benchmarks_report.py "$out" --out "${DOC:-docs/benchmarks.md}"
echo "done: raw outputs in $out/, plots in $plots/"
