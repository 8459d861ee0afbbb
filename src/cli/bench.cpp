// fastwave bench: generation speed over a grid of points (model or random-init depth,
// scheme, ISA, method, length, streams, threads), mean ± sd over runs after warm-up, with
// the costs that explain it (weights and MACs per sample, CPU use, peak RSS).
// Timing: bench_measure.cpp; sweeps: bench_sweep.cpp; output: bench_report.cpp.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/bench.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {
namespace {

using bench::Row;

// A network to measure before ISA selection: a model in one scheme.
struct Variant {
  std::string model_name, scheme;
  Model model;
  double quantize_seconds = -1;
};

// The name of a stored model's scheme: f32, the one scheme of all its quantized tensors,
// or "mixed".
std::string stored_scheme(const Model& model) {
  std::string name;
  for (const auto& tensor : quantizable_tensors(model.config())) {
    if (!runs_in_kernel(tensor)) continue;  // weight-only tensors do not set the speed
    const std::string s = scheme_name(model.scheme_of(tensor).scheme);
    if (name.empty()) name = s;
    else if (name != s) return "mixed";
  }
  return name.empty() ? "f32" : name;
}

// The model in one scheme: "stored" is the file as it is; others quantize it in memory
// (int8-static calibrates on two seconds the float model generates itself: speed does not
// depend on which audio set the scales). Only quantize() is timed.
Variant make_variant(const std::string& model_name, const Model& model, const std::string& name) {
  if (name == "stored") return {model_name, stored_scheme(model), model};
  const Scheme scheme = parse_scheme(name);
  if (model.is_quantized()) throw Error("--schemes needs a float model; this one is already quantized");
  if (scheme == Scheme::kF32) return {model_name, name, model};
  QuantizeOptions options;
  options.scheme = scheme;
  if (scheme.static_activations) {
    Conditioning cond;
    if (model.config().has_global()) cond.speaker = 0;
    auto generator = make_generator(model, Method::kFast, cond);
    GenerateOptions g;
    g.samples = 2 * model.config().sample_rate;
    options.calibration.emplace_back(generate(*generator, model.config(), g), cond);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Model quantized = quantize(model, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {model_name, name, std::move(quantized), seconds};
}

std::vector<std::string> pick_isas(const std::vector<std::string>& asked) {
  const auto available = available_isas();
  if (asked.empty()) return {available.back()};
  const bool all = std::find(asked.begin(), asked.end(), "all") != asked.end();
  std::vector<std::string> isas;
  for (const auto& name : available) {
    if (all || std::find(asked.begin(), asked.end(), name) != asked.end()) isas.push_back(name);
  }
  if (isas.empty()) {
    std::string names;
    for (const auto& n : available) names += (names.empty() ? "" : ", ") + n;
    throw Error("none of --isa runs on this CPU (it runs " + names + ")");
  }
  return isas;
}

struct Options {
  std::string model, json, csv, markdown;
  std::vector<std::string> schemes{"stored"}, isas, methods{"fast"}, sweeps;
  std::vector<int> streams{1}, threads{1};
  int64_t samples = 16000, naive_samples = 8;
  bench::Timing timing;
};

void write_text(const std::string& path, const std::string& text) {
  write_file_atomically(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void run_bench(Options o, bool methods_given) {
  // Sweeps replace the lists they name.
  std::vector<int64_t> layers, samples{o.samples}, naive_samples{o.naive_samples};
  for (const auto& text : o.sweeps) {
    const bench::Sweep sweep = bench::parse_sweep(text);
    std::printf("sweep %s:", sweep.name.c_str());
    for (int64_t v : sweep.values) std::printf(" %lld", static_cast<long long>(v));
    std::printf("\n");
    std::vector<int> ints(sweep.values.begin(), sweep.values.end());
    if (sweep.name == "layers") layers = sweep.values;
    if (sweep.name == "samples") samples = naive_samples = sweep.values;
    if (sweep.name == "threads") o.threads = ints;
    if (sweep.name == "streams") o.streams = ints;
  }
  if (!layers.empty() && !o.model.empty()) throw Error("--sweep layers makes random-init models; it takes no -m");
  if (!layers.empty() && !methods_given) o.methods = {"fast", "naive"};  // the paper's experiment
  const auto isas = pick_isas(o.isas);

  // The base models: the file, or one random-init model of 2 blocks x L layers per L.
  std::vector<std::pair<std::string, Model>> bases;
  if (layers.empty()) {
    const std::string path = resolve_model_path(o.model);
    bases.emplace_back(std::filesystem::path(path).filename().string(), Model::load(path));
    std::printf("model %s, %lld parameters\n", path.c_str(), static_cast<long long>(bases[0].second.parameter_count()));
  }
  for (int64_t l : layers) {
    ModelConfig c;
    c.blocks = 2;
    c.layers_per_block = int(l);
    bases.emplace_back("random", Model::random(c, 1));
  }
  size_t per_network = 0;
  for (const auto& method : o.methods) per_network += method == "naive" ? naive_samples.size() : samples.size() * o.streams.size() * o.threads.size();
  const size_t total = bases.size() * o.schemes.size() * isas.size() * per_network;
  std::printf("%d timed runs after %d warm-up per point; %zu points\n", o.timing.runs, o.timing.warmup, total);
  bench::print_table_header(stdout);

  std::vector<Row> rows;
  for (const auto& [model_name, base] : bases) {
    for (const auto& scheme : o.schemes) {
      const Variant variant = make_variant(model_name, base, scheme);
      const size_t file_bytes = bench::model_file_bytes(variant.model);
      for (const auto& isa : isas) {
        const auto network = Network::build(variant.model, isa);
        const ModelConfig& c = network->config();
        Row point;
        point.model = variant.model_name;
        point.scheme = variant.scheme;
        point.isa = network->isa();
        point.blocks = c.blocks;
        point.layers_per_block = c.layers_per_block;
        point.sample_rate = c.sample_rate;
        point.receptive_field = c.receptive_field();
        point.weight_bytes = network->weight_bytes();
        point.model_file_bytes = file_bytes;
        point.quantize_seconds = variant.quantize_seconds;
        auto run = [&](Row row) {
          std::fprintf(stderr, "bench [%zu/%zu] %s %s %s %s %dx%d: %d stream(s), %d thread(s), %lld samples, %d+%d runs\n",
                       rows.size() + 1, total, row.model.c_str(), row.scheme.c_str(), row.isa.c_str(),
                       row.method.c_str(), row.blocks, row.layers_per_block, row.streams, row.threads,
                       static_cast<long long>(row.samples), o.timing.warmup, o.timing.runs);
          bench::measure(network, o.timing, row);
          bench::print_table_row(stdout, row);
          rows.push_back(row);
        };
        for (const auto& method : o.methods) {
          point.method = method;
          point.macs_per_sample = bench::macs_per_sample(c, method == "naive" ? Method::kNaive : Method::kFast);
          if (method == "naive") {
            for (int64_t n : naive_samples) {
              point.samples = n;
              point.streams = point.threads = 1;
              run(point);
            }
            continue;
          }
          for (int64_t n : samples) {
            for (int streams : o.streams) {
              for (int threads : o.threads) {
                point.samples = n;
                point.streams = streams;
                point.threads = threads;
                run(point);
              }
            }
          }
        }
      }
    }
  }
  bench::print_ratios(stdout, rows);
  if (!o.json.empty()) write_text(o.json, bench::to_json(rows));
  if (!o.csv.empty()) write_text(o.csv, bench::to_csv(rows));
  if (!o.markdown.empty()) write_text(o.markdown, bench::to_markdown(rows));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure generation speed over schemes, ISAs, methods, depths, lengths, streams and threads");
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Model file, any scheme or mix (default: the shipped default model)");
  cmd->add_option("--schemes", o->schemes, "Quantize in memory first: f32,bf16,int8-dynamic,int8-static,int4 (default: as stored)")
      ->delimiter(',');
  cmd->add_option("--isa", o->isas, "Kernel ISAs to measure, e.g. avx512,avx2,ref or all (default: the best this CPU runs)")
      ->delimiter(',');
  auto* methods = cmd->add_option("--methods", o->methods, "fast and/or naive (naive is slow; default fast, or both with --sweep layers)")
      ->delimiter(',')->check(CLI::IsMember({"fast", "naive"}));
  cmd->add_option("--streams", o->streams, "Streams stepped together over one network, e.g. 1,8,64")
      ->delimiter(',')->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads splitting the streams, e.g. 1,2")
      ->delimiter(',')->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("-n,--samples", o->samples, "Samples per stream and fast run")->check(CLI::Range(int64_t{1}, int64_t{1} << 28))->capture_default_str();
  cmd->add_option("--naive-samples", o->naive_samples, "Samples per naive run")->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  cmd->add_option("--sweep", o->sweeps,
                  "Vary one dimension: layers=4..14 (random-init 2 blocks x L layers), samples=1000..8000:1000, "
                  "threads=1,2, streams=1,2,4,...,64; repeatable")
      ->take_all();
  add_memory_limit_option(*cmd);
  cmd->add_option("--runs", o->timing.runs, "Timed runs per point")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--warmup", o->timing.warmup, "Untimed warm-up runs per point")->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--json", o->json, "Also write the rows to this JSON file (a list of objects)");
  cmd->add_option("--csv", o->csv, "Also write the rows to this CSV file");
  cmd->add_option("--markdown", o->markdown, "Also write the rows as a Markdown table to this file");
  cmd->callback([o, methods] { run_bench(*o, methods->count() > 0); });
}

}  // namespace fastwave::cli
