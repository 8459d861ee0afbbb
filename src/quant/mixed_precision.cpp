// Mixed precision under a byte budget. Both allocators turn their measurements into one
// sequence of single-bit decrements from every unit at 8 bits; the allocation is the
// shortest prefix of that sequence whose model file fits the budget.
#include "fastwave/mixed_precision.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

#include "engine/packed_model.h"
#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/evaluate.h"
#include "fastwave/network.h"
#include "fastwave/quantize.h"
#include "quant/weight_formats.h"

namespace fastwave {
namespace {

constexpr int kLowBits = kMinIntegerBits, kHighBits = kMaxIntegerBits;
// greedy-kl measures each unit at this width and scales the KL by 4 per bit elsewhere:
// quantization noise power falls 6 dB per bit, and small output KL grows with it.

struct Unit {
  std::string name;
  std::vector<std::string> tensors;
  bool in_kernel = true;  // takes static activations (else weight-only)
};

std::vector<Unit> allocation_units(const ModelConfig& c) {
  std::vector<Unit> units;
  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".weight", layer = "layer " + std::to_string(n);
    units.push_back({layer + " filter+gate", {"filter_convs" + i, "gate_convs" + i}});
    units.push_back({layer + " residual+skip", {"residual_convs" + i, "skip_convs" + i}});
  }
  units.push_back({"end_conv_1", {"end_conv_1.weight"}});
  units.push_back({"end_conv_2", {"end_conv_2.weight"}});
  units.push_back({"start", {"start_conv.weight"}, false});
  Unit conditioning{"conditioning", {}, false};
  for (const auto& name : quantizable_tensors(c)) {
    if (name.starts_with("global_") || name.starts_with("local_")) conditioning.tensors.push_back(name);
  }
  if (!conditioning.tensors.empty()) units.push_back(conditioning);
  return units;
}

TensorScheme unit_scheme(const Unit& unit, int bits, int group_size) {
  const Scheme scheme = Scheme::integer(bits, unit.in_kernel);
  return {scheme, scheme.weight_format().grouped ? group_size : 0};
}

int64_t unit_bytes(const Model& model, const Unit& unit, int bits, int group_size) {
  int64_t bytes = 0;
  for (const auto& name : unit.tensors) bytes += quant::stored_bytes(model.tensor(name).shape, unit_scheme(unit, bits, group_size));
  return bytes;
}

int64_t unit_parameters(const Model& model, const Unit& unit) {
  int64_t n = 0;
  for (const auto& name : unit.tensors) n += model.tensor(name).numel();
  return n;
}

Model build(const Model& model, const std::vector<Unit>& units, const std::vector<int>& bits, int group_size,
            const std::vector<float>& clips) {
  QuantizeOptions options;
  options.scheme = Scheme::kF32;
  options.activation_clips = clips;
  for (size_t u = 0; u < units.size(); ++u) {
    for (const auto& name : units[u].tensors) options.tensor_schemes[name] = unit_scheme(units[u], bits[u], group_size);
  }
  return quantize(model, options);
}

// A float model whose unit `unit` holds the values `bits` wide codes give back: how much
// that unit's weights alone cost, with nothing else changed.
Model with_unit_rounded(const Model& model, const Unit& unit, int bits, int group_size) {
  std::map<std::string, Tensor> tensors = model.tensors();
  for (const auto& name : unit.tensors) {
    const Tensor& weight = model.tensor(name);
    tensors[name] = Tensor::from_floats(weight.shape, quant::round_trip(name, weight, unit_scheme(unit, bits, group_size)));
  }
  return Model(model.config(), std::move(tensors));
}

// Output distances of a probe model from the float model, averaged over positions.
struct Distance {
  double kl = 0, l1 = 0, l2 = 0;
};

// KL is output_kl's (exact for softmax rows, estimated for mixtures); l1 and l2 compare
// softmax probabilities and are left 0 for mixtures, which refuse them.
Distance output_distance(std::span<const float> reference, std::span<const float> logits, const ModelConfig& c) {
  Distance d;
  const int width = c.outputs();
  const int64_t rows = int64_t(reference.size()) / width;
  UniformSource uniforms(0x6b6c);
  std::vector<double> p(width), q(width);
  auto softmax = [&](const float* x, std::vector<double>& out) {
    const double m = *std::max_element(x, x + width);
    double sum = 0;
    for (int i = 0; i < width; ++i) sum += out[i] = std::exp(double(x[i]) - m);
    for (auto& v : out) v /= sum;
  };
  for (int64_t r = 0; r < rows; ++r) {
    const std::span<const float> p_row = reference.subspan(r * width, width), q_row = logits.subspan(r * width, width);
    d.kl += output_kl(c, p_row, q_row, uniforms);
    if (c.output != ModelConfig::Output::kSoftmax) continue;
    softmax(p_row.data(), p);
    softmax(q_row.data(), q);
    double l1 = 0, l2 = 0;
    for (int i = 0; i < width; ++i) {
      l1 += std::fabs(p[i] - q[i]);
      l2 += (p[i] - q[i]) * (p[i] - q[i]);
    }
    d.l1 += l1, d.l2 += std::sqrt(l2);
  }
  if (rows) d.kl /= rows, d.l1 /= rows, d.l2 /= rows;
  return d;
}

using Clips = std::vector<std::pair<std::vector<int>, Conditioning>>;

// The probe audio: `seconds` in all, an equal share from each clip.
Clips probe_clips(const Clips& calibration, double seconds, int sample_rate) {
  Clips probes;
  const auto share = int64_t(seconds * sample_rate / std::max<size_t>(1, calibration.size()));
  for (const auto& [ids, conditioning] : calibration) {
    const auto n = std::min<int64_t>(int64_t(ids.size()), std::max<int64_t>(share, 2));
    probes.emplace_back(std::vector<int>(ids.begin(), ids.begin() + n), conditioning);
  }
  return probes;
}

// Distance of each unit rounded to `bits` alone, probes spread over threads.
std::vector<Distance> probe_units(const Model& model, const std::vector<Unit>& units, int bits,
                                  const BudgetOptions& options, const Clips& probes) {
  std::vector<std::vector<float>> reference;
  for (const auto& [ids, conditioning] : probes) {
    reference.push_back(teacher_forced_logits(model, ids, conditioning, options.threads));
  }
  std::vector<Distance> distances(units.size());
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::mutex progress_mutex;
  std::exception_ptr failure;
  auto work = [&] {
    try {
      for (size_t u; (u = next++) < units.size();) {
        const Model probe = with_unit_rounded(model, units[u], bits, options.group_size);
        Distance sum;
        int64_t rows = 0;
        for (size_t p = 0; p < probes.size(); ++p) {
          const auto logits = teacher_forced_logits(probe, probes[p].first, probes[p].second);
          const int64_t n = int64_t(logits.size()) / model.config().outputs();
          const Distance d = output_distance(reference[p], logits, model.config());
          sum.kl += d.kl * n, sum.l1 += d.l1 * n, sum.l2 += d.l2 * n;
          rows += n;
        }
        distances[u] = {sum.kl / std::max<int64_t>(rows, 1), sum.l1 / std::max<int64_t>(rows, 1),
                        sum.l2 / std::max<int64_t>(rows, 1)};
        const int finished = ++done;
        if (options.progress) {
          std::lock_guard lock(progress_mutex);
          options.progress(finished, int(units.size()));
        }
      }
    } catch (...) {
      std::lock_guard lock(progress_mutex);
      failure = std::current_exception();
      next = units.size();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < options.threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return distances;
}

// Keeps every stride-th value, doubling the stride when full: a bounded sample spread
// over all the audio.
struct ValueSample {
  static constexpr size_t kCap = 1 << 15;
  std::vector<float> values;
  uint64_t seen = 0, stride = 1;
  void add(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      if (seen++ % stride != 0) continue;
      values.push_back(x[i]);
      if (values.size() >= kCap) {
        for (size_t j = 0; j < values.size() / 2; ++j) values[j] = values[2 * j];
        values.resize(values.size() / 2);
        stride *= 2;
      }
    }
  }
  double statistic(Sensitivity s) const {
    if (values.empty()) return 0;
    std::vector<double> magnitudes;
    for (float v : values) magnitudes.push_back(std::fabs(v));
    switch (s) {
      case Sensitivity::kMedian: {
        std::nth_element(magnitudes.begin(), magnitudes.begin() + magnitudes.size() / 2, magnitudes.end());
        return magnitudes[magnitudes.size() / 2];
      }
      case Sensitivity::kMean: return std::accumulate(magnitudes.begin(), magnitudes.end(), 0.0) / magnitudes.size();
      case Sensitivity::kMax: return *std::max_element(magnitudes.begin(), magnitudes.end());
      case Sensitivity::kStd: {
        double mean = 0, sq = 0;
        for (float v : values) mean += v;
        mean /= values.size();
        for (float v : values) sq += (v - mean) * (v - mean);
        return std::sqrt(sq / values.size());
      }
      default: return 0;
    }
  }
};

// myQASR's activation statistics: each unit's float outputs over the calibration audio.
std::vector<double> output_statistics(const Model& model, const std::vector<Unit>& units, const BudgetOptions& options) {
  const ModelConfig& c = model.config();
  const auto network = Network::build(model);
  const PackedModel& packed = network->packed();
  std::vector<ValueSample> samples(units.size());
  std::vector<float> out;
  const int end_units = 2 * c.num_layers();
  for (const auto& [ids, conditioning] : options.calibration) {
    if (ids.size() < 2) continue;
    TeacherForcing forcing(network, ids, conditioning);
    // Point 2n feeds unit 2n (filter+gate), 2n+1 feeds 2n+1 (residual+skip); the end
    // convs follow in the same numbering.
    forcing.set_observer([&](int point, const float* x, int64_t rows, int width) {
      const kernels::Linear& linear = point < end_units
                                          ? (point % 2 == 0 ? packed.layers[point / 2].filter_gate
                                                            : packed.layers[point / 2].residual_skip)
                                          : (point == end_units ? packed.end1 : packed.end2);
      out.resize(size_t(rows) * linear.rows());
      linear.apply(x, width, int(rows), out.data(), linear.rows(), network->kernels());
      samples[point].add(out.data(), int64_t(out.size()));
    });
    int64_t first = 0;
    while (!forcing.next(&first).empty()) {
    }
    // The start conv's output is the embedding row of each id; the conditioning's, the
    // terms it adds to every layer.
    std::vector<float> start_row(size_t(c.residual_channels));
    for (int id : ids) {
      packed.start_row(id, start_row.data());
      samples[end_units + 2].add(start_row.data(), c.residual_channels);
    }
    if (units.size() > size_t(end_units + 3)) {
      ConditioningTerms terms(packed, conditioning);
      std::vector<float> row(terms.width());
      terms.compute(0, 1, row.data());
      samples[end_units + 3].add(row.data(), int64_t(row.size()));
    }
  }
  std::vector<double> stats;
  for (const auto& s : samples) stats.push_back(s.statistic(options.sensitivity));
  return stats;
}

// myQASR: units in sensitivity order; sweep after sweep each loses at most one bit.
std::vector<int> myqasr_sequence(const std::vector<double>& sensitivity, SensitivityOrder order) {
  std::vector<int> by_rank(sensitivity.size());
  std::iota(by_rank.begin(), by_rank.end(), 0);
  std::stable_sort(by_rank.begin(), by_rank.end(), [&](int a, int b) {
    return order == SensitivityOrder::kDescending ? sensitivity[a] > sensitivity[b] : sensitivity[a] < sensitivity[b];
  });
  std::vector<int> sequence;
  for (int sweep = kHighBits; sweep > kLowBits; --sweep) sequence.insert(sequence.end(), by_rank.begin(), by_rank.end());
  return sequence;
}

// greedy-kl: each step lowers the unit whose next bit costs the least KL per byte saved.
std::vector<int> greedy_sequence(const Model& model, const std::vector<Unit>& units, const std::vector<double>& probe_kl,
                                 int probe_bits, int group_size) {
  auto kl_at = [&](size_t u, int bits) { return probe_kl[u] * std::pow(4.0, probe_bits - bits); };
  std::vector<int> bits(units.size(), kHighBits), sequence;
  for (;;) {
    int best = -1;
    double best_cost = INFINITY;
    for (size_t u = 0; u < units.size(); ++u) {
      if (bits[u] == kLowBits) continue;
      const double saved = double(unit_bytes(model, units[u], bits[u], group_size) -
                                  unit_bytes(model, units[u], bits[u] - 1, group_size));
      const double cost = (kl_at(u, bits[u] - 1) - kl_at(u, bits[u])) / std::max(saved, 1.0);
      if (cost < best_cost) best_cost = cost, best = int(u);
    }
    if (best < 0) return sequence;
    --bits[best];
    sequence.push_back(best);
  }
}

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f MiB", double(bytes) / (1 << 20));
  return text;
}

}  // namespace

Allocator parse_allocator(const std::string& name) {
  if (name == "myqasr") return Allocator::kMyQasr;
  if (name == "greedy-kl") return Allocator::kGreedyKl;
  throw Error("unknown allocator '" + name + "' (choose myqasr or greedy-kl)");
}

const char* allocator_name(Allocator allocator) { return allocator == Allocator::kMyQasr ? "myqasr" : "greedy-kl"; }

namespace {
constexpr std::pair<Sensitivity, const char*> kSensitivityNames[] = {
    {Sensitivity::kMedian, "median"}, {Sensitivity::kMean, "mean"}, {Sensitivity::kMax, "max"},
    {Sensitivity::kStd, "std"},       {Sensitivity::kKl, "kl"},     {Sensitivity::kL1, "l1"},
    {Sensitivity::kL2, "l2"}};
}

Sensitivity parse_sensitivity(const std::string& name) {
  for (const auto& [s, text] : kSensitivityNames) {
    if (name == text) return s;
  }
  throw Error("unknown sensitivity '" + name + "' (choose median, mean, max, std, kl, l1 or l2)");
}

const char* sensitivity_name(Sensitivity sensitivity) {
  for (const auto& [s, text] : kSensitivityNames) {
    if (s == sensitivity) return text;
  }
  return "?";
}

SensitivityOrder parse_sensitivity_order(const std::string& name) {
  if (name == "descending") return SensitivityOrder::kDescending;
  if (name == "ascending") return SensitivityOrder::kAscending;
  throw Error("unknown order '" + name + "' (choose descending or ascending)");
}

std::vector<std::string> allocation_unit_names(const ModelConfig& config) {
  std::vector<std::string> names;
  for (const auto& unit : allocation_units(config)) names.push_back(unit.name);
  return names;
}

int64_t uniform_file_bytes(const Model& model, int bits, int group_size) {
  if (bits < kLowBits || bits > kHighBits) throw Error("widths run from 2 to 8 bits");
  const auto units = allocation_units(model.config());
  // Any positive clip will do: only sizes matter here.
  const std::vector<float> clips(2 * model.config().num_layers() + 2, 1.0f);
  return int64_t(build(model, units, std::vector<int>(units.size(), bits), group_size, clips).serialize().size());
}

BudgetResult quantize_to_budget(const Model& model, const BudgetOptions& options) {
  if (model.is_quantized()) throw Error("the model is already quantized; give --budget-mb its float original");
  if (options.calibration.empty()) throw Error("--budget-mb needs calibration audio (--calib FILE_OR_DIR)");
  if (model.config().output != ModelConfig::Output::kSoftmax && options.allocator == Allocator::kMyQasr &&
      (options.sensitivity == Sensitivity::kL1 || options.sensitivity == Sensitivity::kL2)) {
    throw Error("the l1 and l2 sensitivities compare softmax probabilities; a mixture-output model takes kl or an "
                "activation statistic");
  }
  if (options.probe_bits < kLowBits || options.probe_bits > kHighBits) {
    throw Error("the probe width must be " + std::to_string(kLowBits) + ".." + std::to_string(kHighBits) + " bits");
  }
  if (const auto problem = group_size_problem(weight_formats()[kLowBits], options.group_size); !problem.empty()) {
    throw Error(problem);
  }
  const ModelConfig& c = model.config();
  const std::vector<Unit> units = allocation_units(c);
  const int64_t smallest = uniform_file_bytes(model, kLowBits, options.group_size);
  if (options.budget_bytes < smallest) {
    throw Error("a budget of " + mib(options.budget_bytes) + " is below the smallest model this can make, " +
                mib(smallest) + " (every weight at 2 bits)");
  }

  QuantizeOptions calibration;
  calibration.calibration = options.calibration;
  calibration.threads = options.threads;
  const std::vector<float> clips = calibrate_activation_clips(model, calibration);

  std::vector<double> sensitivity;
  std::vector<int> sequence;
  const bool probes = options.allocator == Allocator::kGreedyKl || options.sensitivity == Sensitivity::kKl ||
                      options.sensitivity == Sensitivity::kL1 || options.sensitivity == Sensitivity::kL2;
  if (!options.sensitivities.empty()) {
    if (options.sensitivities.size() != units.size()) {
      throw Error("given " + std::to_string(options.sensitivities.size()) + " sensitivities for " +
                  std::to_string(units.size()) + " units");
    }
    sensitivity = options.sensitivities;
  } else if (probes) {
    const Clips probe_audio = probe_clips(options.calibration, options.probe_seconds, c.sample_rate);
    const int bits = options.allocator == Allocator::kGreedyKl ? options.probe_bits : 8;  // myQASR probes at 8 bits
    for (const Distance& d : probe_units(model, units, bits, options, probe_audio)) {
      sensitivity.push_back(options.allocator == Allocator::kGreedyKl || options.sensitivity == Sensitivity::kKl ? d.kl
                            : options.sensitivity == Sensitivity::kL1                                          ? d.l1
                                                                                                                : d.l2);
    }
  } else {
    sensitivity = output_statistics(model, units, options);
  }
  sequence = options.allocator == Allocator::kGreedyKl
                 ? greedy_sequence(model, units, sensitivity, options.probe_bits, options.group_size)
                 : myqasr_sequence(sensitivity, options.order);

  // The shortest prefix whose estimated size fits, then real files until one does: the
  // header's length moves a little with the widths, so the estimate is checked.
  int64_t weights_at_high = 0;
  for (const auto& unit : units) weights_at_high += unit_bytes(model, unit, kHighBits, options.group_size);
  const int64_t overhead = uniform_file_bytes(model, kHighBits, options.group_size) - weights_at_high;
  std::vector<int> bits(units.size(), kHighBits);
  int64_t estimate = overhead + weights_at_high;
  size_t step = 0;
  while (estimate > options.budget_bytes && step < sequence.size()) {
    const int u = sequence[step++];
    estimate -= unit_bytes(model, units[u], bits[u], options.group_size) -
                unit_bytes(model, units[u], bits[u] - 1, options.group_size);
    --bits[u];
  }
  auto file_size = [&] { return int64_t(build(model, units, bits, options.group_size, clips).serialize().size()); };
  // The rest of the file was measured at 8 bits, whose scheme names are the longest in
  // the header, so the estimate errs high: give back decrements while the real file fits.
  while (step > 0) {
    const int u = sequence[step - 1];
    ++bits[u];
    if (file_size() > options.budget_bytes) {
      --bits[u];
      break;
    }
    --step;
  }
  for (;;) {
    Model quantized = build(model, units, bits, options.group_size, clips);
    const int64_t file_bytes = int64_t(quantized.serialize().size());
    if (file_bytes <= options.budget_bytes || step == sequence.size()) {
      if (file_bytes > options.budget_bytes) throw Error("cannot fit " + mib(options.budget_bytes));
      BudgetResult result{std::move(quantized), {}, file_bytes, 0};
      int64_t parameters = 0;
      double bit_sum = 0;
      for (size_t u = 0; u < units.size(); ++u) {
        const int64_t n = unit_parameters(model, units[u]);
        result.units.push_back({units[u].name, units[u].tensors, n, sensitivity[u], bits[u],
                                unit_bytes(model, units[u], bits[u], options.group_size)});
        parameters += n;
        bit_sum += double(n) * bits[u];
      }
      result.mean_bits = bit_sum / std::max<int64_t>(parameters, 1);
      return result;
    }
    --bits[sequence[step++]];
  }
}

}  // namespace fastwave
