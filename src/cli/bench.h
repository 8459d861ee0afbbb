// fastwave bench, shared between its files: bench.cpp (options, the points, the loop),
// bench_sweep.cpp (the --sweep syntax), bench_measure.cpp (timing one point) and
// bench_report.cpp (table, JSON, CSV, Markdown).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fastwave/fastwave.h"

namespace fastwave::cli::bench {

// --sweep NAME=VALUES: one dimension of the grid of points.
struct Sweep {
  std::string name;  // layers, samples, threads or streams
  std::vector<int64_t> values;
};
// "layers=4..14", "threads=1,2", "streams=1,2,4,...,64", "samples=1000..8000:1000".
// Throws fastwave::Error (one line) for anything else.
Sweep parse_sweep(const std::string& text);

// One measured point: what was run and what it cost.
struct Row {
  // The point.
  std::string model;   // file name, or "random" for --sweep layers
  std::string scheme;  // f32, bf16, int8-dynamic, int8-static, int4, mixed
  std::string isa, method;
  int blocks = 0, layers_per_block = 0;
  int streams = 1, threads = 1;
  int64_t samples = 0;  // generated per stream and run
  int sample_rate = 16000;
  int receptive_field = 0;
  // Facts about the network.
  size_t weight_bytes = 0;      // layer and end matrices, streamed once per step
  size_t model_file_bytes = 0;  // the model file as saved
  double macs_per_sample = 0;   // multiply-adds of those matrices per generated sample
  double quantize_seconds = -1; // time quantize() took here; < 0: not quantized here
  // Measured over `runs` timed runs after `warmup` untimed ones.
  int warmup = 0, runs = 0;
  double wall_mean = 0, wall_sd = 0;  // seconds per run
  double rate_mean = 0, rate_sd = 0;  // samples/s, summed over the streams
  double cpu_use = 0;                 // CPU seconds per wall second (2.0 = two cores busy)
  double peak_rss_bytes = 0;          // the process's peak resident set during the point

  double us_per_sample() const { return 1e6 / rate_mean; }
  double times_real_time() const { return rate_mean / sample_rate; }  // all streams together
  // Seconds of compute per second of audio of one stream (< 1 is faster than real time).
  double real_time_factor() const { return sample_rate * double(streams) / rate_mean; }
  // Weights stream once per step, whatever the number of streams in it.
  double weight_gb_per_s() const { return weight_bytes * rate_mean / streams / 1e9; }
  double gmac_per_s() const { return macs_per_sample * rate_mean / 1e9; }
};

// Multiply-adds per generated sample in the layer and end matrices: the fast method does
// one column of each per sample; the naive one recomputes the layers over the whole
// receptive field (the end convs only at the last position).
double macs_per_sample(const ModelConfig& config, Method method);
// Bytes of `model` saved as a file.
size_t model_file_bytes(const Model& model);

struct Timing {
  int warmup = 1, runs = 10;
};
// Times one point (row.method, row.samples, row.streams, row.threads) on `network` and
// fills the measured fields of `row`.
void measure(const std::shared_ptr<const Network>& network, const Timing& timing, Row& row);

// Output.
void print_table_header(std::FILE* out);
void print_table_row(std::FILE* out, const Row& row);
// Ratios within this run: fast/naive, best ISA/ref, each scheme against the first.
void print_ratios(std::FILE* out, const std::vector<Row>& rows);
std::string to_json(const std::vector<Row>& rows);
std::string to_csv(const std::vector<Row>& rows);
std::string to_markdown(const std::vector<Row>& rows);

}  // namespace fastwave::cli::bench
