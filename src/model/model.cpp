#include "fastwave/model.h"

#include <cmath>
#include <cstring>

#include "fastwave/error.h"

namespace fastwave {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
  }
  return "?";
}

int dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::I8:
    case DType::U8: return 1;
  }
  return 0;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::from_floats(std::vector<int64_t> shape, std::span<const float> values) {
  Tensor t;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(values.size())) {
    throw Error("tensor: " + std::to_string(values.size()) + " values do not fill its shape");
  }
  t.bytes.resize(values.size_bytes());
  std::memcpy(t.bytes.data(), values.data(), values.size_bytes());
  return t;
}

std::span<const float> Tensor::f32() const {
  if (dtype != DType::F32) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not F32");
  return {reinterpret_cast<const float*>(bytes.data()), bytes.size() / 4};
}

std::span<float> Tensor::f32() {
  if (dtype != DType::F32) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not F32");
  return {reinterpret_cast<float*>(bytes.data()), bytes.size() / 4};
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  const int64_t res = c.residual_channels, dil = c.dilation_channels, skip = c.skip_channels;
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    specs.push_back({std::move(name), std::move(shape)});
  };
  add("start_conv.weight", {res, c.classes, 1});
  if (c.bias) add("start_conv.bias", {res});
  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".";
    for (const char* conv : {"filter_convs", "gate_convs"}) {
      add(conv + i + "weight", {dil, res, c.kernel_size});
      if (c.bias) add(conv + i + "bias", {dil});
    }
    add("residual_convs" + i + "weight", {res, dil, 1});
    if (c.bias) add("residual_convs" + i + "bias", {res});
    add("skip_convs" + i + "weight", {skip, dil, 1});
    if (c.bias) add("skip_convs" + i + "bias", {skip});
  }
  add("end_conv_1.weight", {c.end_channels, skip, 1});
  add("end_conv_1.bias", {c.end_channels});
  add("end_conv_2.weight", {c.classes, c.end_channels, 1});
  add("end_conv_2.bias", {c.classes});
  if (c.has_global()) {
    add("global_embedding.weight", {c.speakers, c.global_channels});
    for (int n = 0; n < c.num_layers(); ++n) {
      add("global_filter_convs." + std::to_string(n) + ".weight", {dil, c.global_channels, 1});
      add("global_gate_convs." + std::to_string(n) + ".weight", {dil, c.global_channels, 1});
    }
  }
  if (c.has_local()) {
    for (int n = 0; n < c.num_layers(); ++n) {
      add("local_filter_convs." + std::to_string(n) + ".weight", {dil, c.local_channels, 1});
      add("local_gate_convs." + std::to_string(n) + ".weight", {dil, c.local_channels, 1});
    }
  }
  return specs;
}

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Model::Model(ModelConfig config, std::map<std::string, Tensor> tensors)
    : config_(config), tensors_(std::move(tensors)) {
  config_.validate();
  const auto specs = expected_tensors(config_);
  for (const auto& spec : specs) {
    auto it = tensors_.find(spec.name);
    if (it == tensors_.end()) throw Error("model: missing tensor '" + spec.name + "'");
    const Tensor& t = it->second;
    if (t.shape != spec.shape) {
      throw Error("model: tensor '" + spec.name + "' has shape " + shape_string(t.shape) +
                  ", the config needs " + shape_string(spec.shape));
    }
    if (t.dtype != DType::F32) {
      throw Error("model: tensor '" + spec.name + "' is " + dtype_name(t.dtype) + ", expected F32");
    }
    if (static_cast<int64_t>(t.bytes.size()) != t.numel() * dtype_size(t.dtype)) {
      throw Error("model: tensor '" + spec.name + "' has the wrong number of bytes");
    }
    for (float v : t.f32()) {
      if (!std::isfinite(v)) throw Error("model: tensor '" + spec.name + "' holds NaN or Inf");
    }
  }
  if (tensors_.size() != specs.size()) {
    for (const auto& [name, t] : tensors_) {
      bool known = false;
      for (const auto& spec : specs) known = known || spec.name == name;
      if (!known) throw Error("model: unexpected tensor '" + name + "' for this config");
    }
  }
}

const Tensor& Model::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error("model: no tensor '" + name + "'");
  return it->second;
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : tensors_) n += t.numel();
  return n;
}

}  // namespace fastwave
