// A WaveNet model: its config and named tensors, read from and written to the fastwave
// model file (safetensors layout, see docs/model-format.md).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fastwave/config.h"

namespace fastwave {

enum class DType { F32, BF16, I8, U8 };

const char* dtype_name(DType dtype);  // safetensors spelling: "F32", "BF16", "I8", "U8"
int dtype_size(DType dtype);

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  static Tensor from_floats(std::vector<int64_t> shape, std::span<const float> values);
  // Throws fastwave::Error unless dtype is F32.
  std::span<const float> f32() const;
  std::span<float> f32();
};

// Name and shape of one tensor the config requires, in file order.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<TensorSpec> expected_tensors(const ModelConfig& config);

class Model {
 public:
  Model() = default;
  // Checks that `tensors` are exactly the ones `config` requires, with finite values.
  Model(ModelConfig config, std::map<std::string, Tensor> tensors);

  // Reads and validates a model file; throws fastwave::Error naming the first problem.
  static Model load(const std::string& path);
  // Writes atomically: a temporary file beside `path`, then rename.
  void save(const std::string& path) const;
  // Weights drawn like PyTorch's default Conv1d init, deterministic in `seed`.
  static Model random(const ModelConfig& config, uint64_t seed);

  const ModelConfig& config() const { return config_; }
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  const Tensor& tensor(const std::string& name) const;
  std::span<const float> weights(const std::string& name) const { return tensor(name).f32(); }
  int64_t parameter_count() const;

 private:
  ModelConfig config_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace fastwave
