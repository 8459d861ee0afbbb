// A WaveNet model: its config and named tensors, read from and written to the fastwave
// model file (safetensors layout, see docs/model-format.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fastwave/config.h"
#include "fastwave/weight_format.h"

namespace fastwave {

enum class DType { F32, BF16, I8, U8 };

const char* dtype_name(DType dtype);  // safetensors spelling: "F32", "BF16", "I8", "U8"
int dtype_size(DType dtype);

// The bytes of a tensor: its own, or a read-only view into a buffer that all the tensors
// of a model file share (Model::load reads the file once and keeps it). Copying a view
// shares the buffer; writing through mutable_data() first gives the tensor its own copy.
class TensorBytes {
 public:
  using value_type = uint8_t;
  using const_iterator = const uint8_t*;
  using iterator = const_iterator;  // read-only: writes go through mutable_data()

  TensorBytes() = default;
  // Implicit, so that `tensor.bytes = some_vector` still gives a tensor its own bytes.
  TensorBytes(std::vector<uint8_t> owned) : owned_(std::move(owned)) {}
  // `view` lies inside `*buffer`, which it keeps alive.
  TensorBytes(std::shared_ptr<const std::vector<uint8_t>> buffer, std::span<const uint8_t> view);

  size_t size() const { return bytes().size(); }
  bool empty() const { return size() == 0; }
  const uint8_t* data() const { return bytes().data(); }
  uint8_t operator[](size_t i) const { return data()[i]; }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size(); }
  operator std::span<const uint8_t>() const { return bytes(); }
  // Whether these bytes lie in a shared buffer rather than in the tensor's own storage.
  bool is_view() const { return buffer_ != nullptr; }

  // Writable bytes: a view is first copied into the tensor's own storage.
  uint8_t* mutable_data();

  bool operator==(const TensorBytes& other) const;  // same contents

 private:
  std::span<const uint8_t> bytes() const { return buffer_ ? view_ : std::span<const uint8_t>(owned_); }

  std::vector<uint8_t> owned_;
  std::shared_ptr<const std::vector<uint8_t>> buffer_;  // set for a view
  std::span<const uint8_t> view_;
};

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  TensorBytes bytes;

  bool operator==(const Tensor&) const = default;
  int64_t numel() const;
  static Tensor from_floats(std::vector<int64_t> shape, std::span<const float> values);
  // Throws fastwave::Error unless dtype is F32.
  std::span<const float> f32() const;
  std::span<float> f32();
};

// How one weight tensor is stored (docs/model-format.md, "Quantized tensors").
struct TensorScheme {
  Scheme scheme = Scheme::kF32;
  int group_size = 0;  // grouped integer formats only
  bool operator==(const TensorScheme&) const = default;
};
// Keyed by weight tensor name; tensors not listed are F32.
using SchemeMap = std::map<std::string, TensorScheme>;

// The weight tensors a scheme may apply to: filter, gate, residual and skip conv weights
// of every layer, the two end convs, the start conv and the conditioning projections.
std::vector<std::string> quantizable_tensors(const ModelConfig& config);
// Those of them the engine runs through a matrix kernel (layers and end convs); the
// others are weight-only: stored quantized, turned back into floats when loaded, so
// they cannot take static activations.
bool runs_in_kernel(const std::string& weight_name);

// Name, dtype and shape of one tensor the config (and schemes) require, in file order.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
};
std::vector<TensorSpec> expected_tensors(const ModelConfig& config, const SchemeMap& schemes = {});

class Model {
 public:
  Model() = default;
  // Checks that `tensors` are exactly the ones `config` and `schemes` require, with finite
  // values and integer codes in range.
  Model(ModelConfig config, std::map<std::string, Tensor> tensors, SchemeMap schemes = {});

  // Reads and validates a model file; throws fastwave::Error naming the first problem.
  static Model load(const std::string& path);
  // The same from bytes in memory; `name` stands for the file in error messages. The
  // bytes are copied once, into the buffer the model's tensors then view.
  static Model parse(std::span<const uint8_t> file, const std::string& name);
  // The same without that copy: the tensors view `file` in place (those misaligned for
  // their dtype are copied) and keep it alive, so the model stays valid after the
  // caller's other owners of `file` are gone.
  static Model parse(std::shared_ptr<const std::vector<uint8_t>> file, const std::string& name);
  // Writes atomically: a temporary file beside `path`, then rename.
  void save(const std::string& path) const;
  // The bytes save() writes (their size is the file's size).
  std::vector<uint8_t> serialize() const;
  // Weights drawn like PyTorch's default Conv1d init, deterministic in `seed`.
  static Model random(const ModelConfig& config, uint64_t seed);

  const ModelConfig& config() const { return config_; }
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  const Tensor& tensor(const std::string& name) const;
  std::span<const float> weights(const std::string& name) const { return tensor(name).f32(); }
  // A weight as floats whatever its scheme (codes times scales for integer formats).
  std::vector<float> dequantized(const std::string& name) const;
  // Parameters of the network (a quantized weight counts as many as its float original).
  int64_t parameter_count() const;
  const SchemeMap& schemes() const { return schemes_; }
  TensorScheme scheme_of(const std::string& name) const;
  bool is_quantized() const { return !schemes_.empty(); }

 private:
  ModelConfig config_;
  std::map<std::string, Tensor> tensors_;
  SchemeMap schemes_;
};

}  // namespace fastwave
