// fastwave bench: generation speed per kernel ISA and method, mean ± sd over runs after
// warm-up, with the real-time factor, CPU use and the fast/naive ratio of this run.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {
namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Measurement {
  std::string scheme, isa, method;
  size_t weight_bytes = 0;
  int64_t samples = 0;  // per stream
  int streams = 1, threads = 1, runs = 0;
  double mean = 0, sd = 0, cpu_use = 0;  // aggregate samples/s, and CPU seconds per wall second
};

Conditioning bench_conditioning(const ModelConfig& c, int64_t samples) {
  Conditioning cond;
  if (c.has_global()) cond.speaker = 0;
  if (c.has_local()) {
    cond.local_frames = static_cast<int>(samples / c.local_hop + 2);
    cond.local_features.assign(size_t(cond.local_frames) * c.local_channels, 0.1f);
  }
  return cond;
}

// Times `runs` generations after `warmup` untimed ones; `generate_once(run)` returns the
// samples it made.
template <typename Run>
Measurement time_runs(int warmup, int runs, Run generate_once) {
  std::vector<double> rates;
  double wall_total = 0, cpu_total = 0;
  for (int run = 0; run < warmup + runs; ++run) {
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t made = generate_once(run);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run >= warmup) {
      rates.push_back(double(made) / wall);
      wall_total += wall;
      cpu_total += cpu_seconds() - cpu0;
    }
  }
  Measurement m;
  m.runs = runs;
  for (double r : rates) m.mean += r / runs;
  for (double r : rates) m.sd += (r - m.mean) * (r - m.mean) / std::max(1, runs - 1);
  m.sd = std::sqrt(m.sd);
  m.cpu_use = cpu_total / wall_total;
  return m;
}

// The naive method, timed from one receptive field in, where its window is full and every
// sample costs what it will for the rest of a long generation.
Measurement measure_naive(const std::shared_ptr<const Network>& network, int64_t samples, int warmup, int runs) {
  const ModelConfig& c = network->config();
  auto generator = make_generator(network, Method::kNaive, bench_conditioning(c, samples + c.receptive_field()));
  GenerateOptions options;
  options.samples = samples;
  options.prime = {c.classes / 2};
  Measurement m = time_runs(warmup, runs, [&](int run) {
    generator->reset();
    generator->feed(std::vector<int>(c.receptive_field() - 1, c.classes / 2));
    options.seed = run;
    generate(*generator, c, options);
    return samples;
  });
  m.method = "naive";
  return m;
}

// The fast method: `streams` streams of `samples` each, stepped together over one network
// by `threads` threads (the cost of a step does not depend on the position).
Measurement measure_fast(const Network& network, int64_t samples, int streams, int threads, int warmup, int runs) {
  std::vector<StreamRequest> requests(streams);
  for (int b = 0; b < streams; ++b) {
    requests[b].samples = samples;
    requests[b].conditioning = bench_conditioning(network.config(), samples);
  }
  StreamsOptions options;
  options.threads = threads;
  Measurement m = time_runs(warmup, runs, [&](int run) {
    for (int b = 0; b < streams; ++b) requests[b].seed = uint64_t(run) * 1000 + b;
    generate_streams(network, requests, options);
    return samples * streams;
  });
  m.method = "fast";
  m.streams = streams;
  m.threads = threads;
  return m;
}

// The model in each requested scheme: "stored" is the file as it is; others quantize it
// in memory (int8-static calibrates on two seconds the float model generates itself:
// speed does not depend on which audio set the scales).
std::vector<std::pair<std::string, Model>> models_for(const Model& model, const std::vector<std::string>& schemes) {
  std::vector<std::pair<std::string, Model>> out;
  for (const auto& name : schemes) {
    if (name == "stored") {
      out.emplace_back(name, model);
      continue;
    }
    const Scheme scheme = parse_scheme(name);
    if (model.is_quantized()) throw Error("--schemes needs a float model; this one is already quantized");
    if (scheme == Scheme::kF32) {
      out.emplace_back(name, model);
      continue;
    }
    QuantizeOptions options;
    options.scheme = scheme;
    if (scheme == Scheme::kInt8Static) {
      Conditioning cond;
      if (model.config().has_global()) cond.speaker = 0;
      auto generator = make_generator(model, Method::kFast, cond);
      GenerateOptions g;
      g.samples = 2 * model.config().sample_rate;
      options.calibration.emplace_back(generate(*generator, model.config(), g), cond);
    }
    out.emplace_back(name, quantize(model, options));
  }
  return out;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure generation speed per scheme, kernel ISA, method and stream count");
  struct Options {
    std::string model, json;
    std::vector<std::string> schemes{"stored"}, isas, methods{"fast"};
    std::vector<int> streams{1};
    int64_t samples = 32000, naive_samples = 8;
    int runs = 5, warmup = 1, threads = 1;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Model file (default: the shipped default model)");
  cmd->add_option("--schemes", o->schemes, "Quantize in memory first: f32,bf16,int8-dynamic,int8-static,int4 (default: as stored)")
      ->delimiter(',');
  cmd->add_option("--isa", o->isas, "Kernel ISAs to measure, e.g. avx512,avx2,ref or all (default: the best this CPU runs)")
      ->delimiter(',');
  cmd->add_option("--methods", o->methods, "fast and/or naive (naive is slow)")->delimiter(',')
      ->check(CLI::IsMember({"fast", "naive"}))->capture_default_str();
  cmd->add_option("--streams", o->streams, "Streams stepped together over one network, e.g. 1,8,64")
      ->delimiter(',')->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads splitting the streams")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("-n,--samples", o->samples, "Samples per stream and fast run")->check(CLI::Range(int64_t{1}, int64_t{1} << 28))->capture_default_str();
  cmd->add_option("--naive-samples", o->naive_samples, "Samples per naive run")->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  add_memory_limit_option(*cmd);
  cmd->add_option("--runs", o->runs, "Timed runs")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed warm-up runs")->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--json", o->json, "Also write the results to this JSON file");
  cmd->callback([o] {
    const std::string path = resolve_model_path(o->model);
    const Model model = Model::load(path);
    const int rate = model.config().sample_rate;
    std::vector<std::string> isas;
    for (const auto& name : available_isas()) {
      const bool all = std::find(o->isas.begin(), o->isas.end(), "all") != o->isas.end();
      if (all || std::find(o->isas.begin(), o->isas.end(), name) != o->isas.end()) isas.push_back(name);
    }
    if (o->isas.empty()) isas = {available_isas().back()};
    if (isas.empty()) throw Error("none of --isa runs on this CPU (it runs " + [] {
      std::string names;
      for (const auto& n : available_isas()) names += (names.empty() ? "" : ", ") + n;
      return names;
    }() + ")");
    const auto models = models_for(model, o->schemes);
    std::printf("model %s, %lld parameters; %d timed runs after %d warm-up\n", path.c_str(),
                static_cast<long long>(model.parameter_count()), o->runs, o->warmup);
    std::printf("%-13s %-7s %-6s %7s %7s %10s %9s %24s %12s %6s\n", "scheme", "isa", "method", "streams", "threads",
                "weights", "samples", "samples/s (mean ± sd)", "x real time", "cpu");
    std::vector<Measurement> results;
    auto record = [&](Measurement m, const std::string& scheme, const Network& network, int64_t samples) {
      m.scheme = scheme;
      m.isa = network.isa();
      m.samples = samples;
      m.weight_bytes = network.weight_bytes();
      std::printf("%-13s %-7s %-6s %7d %7d %10s %9lld %14.1f ± %-7.1f %11.3fx %5.0f%%\n", m.scheme.c_str(),
                  m.isa.c_str(), m.method.c_str(), m.streams, m.threads, format_bytes(double(m.weight_bytes)).c_str(),
                  static_cast<long long>(m.samples), m.mean, m.sd, m.mean / rate, 100 * m.cpu_use);
      std::fflush(stdout);
      results.push_back(m);
    };
    for (const auto& [scheme, m_model] : models) {
      for (const auto& isa : isas) {
        const auto network = Network::build(m_model, isa);
        for (const auto& method : o->methods) {
          if (method == "naive") {
            record(measure_naive(network, o->naive_samples, o->warmup, o->runs), scheme, *network, o->naive_samples);
            continue;
          }
          for (int streams : o->streams) {
            record(measure_fast(*network, o->samples, streams, o->threads, o->warmup, o->runs), scheme, *network,
                   o->samples);
          }
        }
      }
    }
    auto find = [&](const std::string& scheme, const std::string& isa, const std::string& method) -> const Measurement* {
      for (const auto& m : results) if (m.scheme == scheme && m.isa == isa && m.method == method && m.streams == 1) return &m;
      return nullptr;
    };
    // Ratios within this run: best ISA against the reference, fast against naive, and each
    // scheme against the first one listed.
    const std::string best = isas.back(), first = models.front().first;
    for (const auto& [scheme, unused] : models) {
      if (const auto *fast = find(scheme, best, "fast"), *ref = find(scheme, "ref", "fast"); fast && ref && best != "ref") {
        std::printf("%s: %s fast / ref fast: %.1fx\n", scheme.c_str(), best.c_str(), fast->mean / ref->mean);
      }
      if (const auto *fast = find(scheme, best, "fast"), *naive = find(scheme, best, "naive"); fast && naive) {
        std::printf("%s: %s fast / naive: %.0fx\n", scheme.c_str(), best.c_str(), fast->mean / naive->mean);
      }
      if (const auto *a = find(scheme, best, "fast"), *b = find(first, best, "fast"); a && b && scheme != first) {
        std::printf("%s / %s (%s fast): %.2fx the speed, %.2fx smaller weights\n", scheme.c_str(), first.c_str(),
                    best.c_str(), a->mean / b->mean, double(b->weight_bytes) / a->weight_bytes);
      }
    }
    if (!o->json.empty()) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& m : results) {
        j.push_back({{"scheme", m.scheme}, {"isa", m.isa}, {"method", m.method}, {"streams", m.streams},
                     {"threads", m.threads}, {"weight_bytes", m.weight_bytes}, {"samples", m.samples},
                     {"runs", m.runs}, {"samples_per_second_mean", m.mean}, {"samples_per_second_sd", m.sd},
                     {"real_time_factor", rate / (m.mean / m.streams)}, {"cpu_use", m.cpu_use}});
      }
      const std::string text = j.dump(2) + "\n";
      write_file_atomically(o->json, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
  });
}

}  // namespace fastwave::cli
