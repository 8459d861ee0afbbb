// Per-layer weight widths chosen from a user's unlabelled audio so that the model file
// fits a size in bytes (myQASR, Fish et al. 2023, and a greedy allocator over measured
// KL curves). docs/personal-quantization.md has the method and the experiment.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fastwave/generator.h"
#include "fastwave/model.h"

namespace fastwave {

enum class Allocator {
  kMyQasr,    // sensitivity order, at most one bit off each unit per sweep (uniformity)
  kGreedyKl,  // spend bytes where the measured output KL says they buy the most
};
enum class Sensitivity { kMedian, kMean, kMax, kStd, kKl, kL1, kL2 };
enum class SensitivityOrder {
  kDescending,  // myQASR's default: the unit with the largest statistic loses bits first
  kAscending,
};
Allocator parse_allocator(const std::string& name);  // "myqasr", "greedy-kl"
Sensitivity parse_sensitivity(const std::string& name);
SensitivityOrder parse_sensitivity_order(const std::string& name);
const char* allocator_name(Allocator allocator);
const char* sensitivity_name(Sensitivity sensitivity);

struct BudgetOptions {
  int64_t budget_bytes = 0;  // the whole output file
  Allocator allocator = Allocator::kGreedyKl;
  Sensitivity sensitivity = Sensitivity::kMedian;  // myqasr
  SensitivityOrder order = SensitivityOrder::kDescending;
  int group_size = 32;  // of the grouped widths (2..4 bits)
  // Unlabelled audio of the user (µ-law ids, with its conditioning): activation ranges
  // and sensitivities are measured on it.
  std::vector<std::pair<std::vector<int>, Conditioning>> calibration;
  // How much of it the per-unit probes (kl, l1, l2, greedy-kl) run over.
  double probe_seconds = 1.0;
  // greedy-kl: the width each unit is probed at; its KL at b bits is modelled as
  // KL(probe_bits) * 4^(probe_bits - b) (docs/personal-quantization.md checks that model).
  int probe_bits = 4;
  int threads = 1;
  // Sensitivities measured before on the same model and audio (UnitReport::sensitivity,
  // in unit order, e.g. from a --report-csv): used instead of measuring again, so several
  // budgets cost one measurement.
  std::vector<double> sensitivities;
  // Called as probes finish: (done, total).
  std::function<void(int, int)> progress;
};

// One allocation unit: weights that take one width together.
struct UnitReport {
  std::string name;                  // "layer 3 filter+gate", "end_conv_1", "start", "conditioning"
  std::vector<std::string> tensors;  // the weights it holds
  int64_t parameters = 0;
  double sensitivity = 0;  // the statistic the allocator ranked by (greedy-kl: KL at the probe width)
  int bits = 8;
  int64_t bytes = 0;  // stored bytes of its weights and scales
};

struct BudgetResult {
  Model model;
  std::vector<UnitReport> units;
  int64_t file_bytes = 0;  // the serialized model, exactly
  double mean_bits = 0;    // over the units' parameters
};

// The allocation units of a model, in report order ("layer 0 filter+gate", ...).
std::vector<std::string> allocation_unit_names(const ModelConfig& config);

// Throws fastwave::Error for a float model it cannot fit: a budget below the smallest
// model it can make (every unit at 2 bits) names that size.
BudgetResult quantize_to_budget(const Model& model, const BudgetOptions& options);

// The file size of `model` with every unit at `bits` (static activations, group size as
// in `options`): the sizes of uniform models, and the smallest and largest budgets.
int64_t uniform_file_bytes(const Model& model, int bits, int group_size);

}  // namespace fastwave
