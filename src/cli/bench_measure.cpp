// Timing one benchmark point: warm-up, timed runs, wall time and rate mean ± sd, CPU use
// and the peak resident set; and the static facts of a network (MACs, file bytes).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/bench.h"

namespace fastwave::cli::bench {
namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Linux keeps one peak-RSS mark per process; writing "5" to clear_refs resets it to the
// current RSS, so each point reports its own peak (after handing the heap that earlier
// points freed back to the system). Where that is not allowed the mark stays the
// process's peak so far.
void reset_peak_rss() {
  ::malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return 1024.0 * std::stod(line.substr(6));  // in kB
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return 1024.0 * usage.ru_maxrss;
}

Conditioning bench_conditioning(const ModelConfig& c, int64_t samples) {
  Conditioning cond;
  if (c.has_global()) cond.speaker = 0;
  if (c.has_local()) {
    cond.local_frames = static_cast<int>(samples / c.local_hop + 2);
    cond.local_features.assign(size_t(cond.local_frames) * c.local_channels, 0.1f);
  }
  return cond;
}

// Runs prepare(run) untimed, then times run(run), `warmup` + `runs` times; fills the
// measured fields of `row` from the timed runs. Each run makes `made` samples in all.
template <typename Prepare, typename Run>
void time_runs(const Timing& timing, int64_t made, Row& row, Prepare prepare, Run run) {
  std::vector<double> walls;
  double cpu_total = 0;
  reset_peak_rss();
  for (int r = 0; r < timing.warmup + timing.runs; ++r) {
    prepare(r);
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    run(r);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r < timing.warmup) continue;
    walls.push_back(wall);
    cpu_total += cpu_seconds() - cpu0;
  }
  auto mean_sd = [&](auto value, double& mean, double& sd) {
    mean = sd = 0;
    for (double w : walls) mean += value(w) / double(walls.size());
    for (double w : walls) sd += (value(w) - mean) * (value(w) - mean) / double(std::max<size_t>(1, walls.size() - 1));
    sd = std::sqrt(sd);
  };
  mean_sd([](double w) { return w; }, row.wall_mean, row.wall_sd);
  mean_sd([&](double w) { return double(made) / w; }, row.rate_mean, row.rate_sd);
  double wall_total = 0;
  for (double w : walls) wall_total += w;
  row.cpu_use = cpu_total / wall_total;
  row.peak_rss_bytes = peak_rss_bytes();
  row.warmup = timing.warmup;
  row.runs = timing.runs;
}

// The naive method, timed from one receptive field in, where its window is full and every
// sample costs what it will for the rest of a long generation. Feeding that first
// receptive field is not timed.
void measure_naive(const std::shared_ptr<const Network>& network, const Timing& timing, Row& row) {
  const ModelConfig& c = network->config();
  auto generator = make_generator(network, Method::kNaive, bench_conditioning(c, row.samples + c.receptive_field()));
  GenerateOptions options;
  options.samples = row.samples;
  options.prime = {c.classes / 2};
  const std::vector<int> history(c.receptive_field() - 1, c.classes / 2);
  time_runs(timing, row.samples, row,
            [&](int r) {
              generator->reset();
              generator->feed(history);
              options.seed = r;
            },
            [&](int) { generate(*generator, c, options); });
}

// The fast method: `streams` streams stepped together over one network by `threads`
// threads (a step costs the same at every position).
void measure_fast(const Network& network, const Timing& timing, Row& row) {
  std::vector<StreamRequest> requests(row.streams);
  for (auto& request : requests) {
    request.samples = row.samples;
    request.conditioning = bench_conditioning(network.config(), row.samples);
  }
  StreamsOptions options;
  options.threads = row.threads;
  time_runs(timing, row.samples * row.streams, row,
            [&](int r) {
              for (size_t b = 0; b < requests.size(); ++b) requests[b].seed = uint64_t(r) * 1000 + b;
            },
            [&](int) { generate_streams(network, requests, options); });
}

}  // namespace

double macs_per_sample(const ModelConfig& c, Method method) {
  const double layer = 2.0 * c.dilation_channels * c.kernel_size * c.residual_channels +
                       double(c.residual_channels + c.skip_channels) * c.dilation_channels;
  const double end = double(c.end_channels) * c.skip_channels + double(c.outputs()) * c.end_channels;
  const double positions = method == Method::kNaive ? c.receptive_field() : 1;
  return positions * layer * c.num_layers() + end;
}

size_t model_file_bytes(const Model& model) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path path = fs::temp_directory_path() /
                        ("fastwave-bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".fwm");
  model.save(path.string());
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec);
  const bool sized = !ec;
  fs::remove(path, ec);
  return sized ? size_t(bytes) : 0;
}

void measure(const std::shared_ptr<const Network>& network, const Timing& timing, Row& row) {
  if (row.method == "naive") measure_naive(network, timing, row);
  else measure_fast(*network, timing, row);
}

}  // namespace fastwave::cli::bench
