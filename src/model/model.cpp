#include "fastwave/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastwave/error.h"
#include "quant/weight_formats.h"

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

TensorBytes::TensorBytes(std::shared_ptr<const std::vector<uint8_t>> buffer, std::span<const uint8_t> view)
    : buffer_(std::move(buffer)), view_(view) {
  if (!buffer_ || view.data() < buffer_->data() || view.data() + view.size() > buffer_->data() + buffer_->size()) {
    throw Error("tensor bytes: the view does not lie inside its buffer");
  }
}

uint8_t* TensorBytes::mutable_data() {
  if (buffer_) {
    owned_.assign(view_.begin(), view_.end());
    buffer_.reset();
    view_ = {};
  }
  return owned_.data();
}

bool TensorBytes::operator==(const TensorBytes& other) const {
  return std::ranges::equal(bytes(), other.bytes());
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
  const auto* first = reinterpret_cast<const uint8_t*>(values.data());
  t.bytes = std::vector<uint8_t>(first, first + values.size_bytes());
  return t;
}

namespace {

void check_f32(DType dtype) {
  if (dtype != DType::F32) throw Error(std::string("tensor is ") + dtype_name(dtype) + ", not F32");
}

template <typename Float, typename Byte>
std::span<Float> as_floats(Byte* data, size_t size) {
  // The loader copies misaligned tensors (model_file.cpp), so this only catches misuse.
  if (reinterpret_cast<uintptr_t>(data) % alignof(float) != 0) throw Error("tensor: F32 bytes are misaligned");
  return {reinterpret_cast<Float*>(data), size / sizeof(float)};
}

}  // namespace

std::span<const float> Tensor::f32() const {
  check_f32(dtype);
  return as_floats<const float>(bytes.data(), bytes.size());
}

std::span<float> Tensor::f32() {
  check_f32(dtype);
  return as_floats<float>(bytes.mutable_data(), bytes.size());
}

std::vector<std::string> quantizable_tensors(const ModelConfig& c) {
  std::vector<std::string> names;
  for (int n = 0; n < c.num_layers(); ++n) {
    for (const char* conv : {"filter_convs", "gate_convs", "residual_convs", "skip_convs"}) {
      names.push_back(std::string(conv) + "." + std::to_string(n) + ".weight");
    }
  }
  names.push_back("end_conv_1.weight");
  names.push_back("end_conv_2.weight");
  names.push_back("start_conv.weight");
  for (const char* kind : {"global", "local"}) {
    if (std::string(kind) == "global" ? !c.has_global() : !c.has_local()) continue;
    for (int n = 0; n < c.num_layers(); ++n) {
      for (const char* conv : {"_filter_convs.", "_gate_convs."}) {
        names.push_back(kind + std::string(conv) + std::to_string(n) + ".weight");
      }
    }
  }
  return names;
}

bool runs_in_kernel(const std::string& weight_name) {
  for (const char* prefix : {"filter_convs.", "gate_convs.", "residual_convs.", "skip_convs.", "end_conv_"}) {
    if (weight_name.starts_with(prefix)) return true;
  }
  return false;
}

namespace {

std::vector<TensorSpec> float_tensors(const ModelConfig& c) {
  const int64_t res = c.residual_channels, dil = c.dilation_channels, skip = c.skip_channels;
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    specs.push_back({std::move(name), std::move(shape)});
  };
  add("start_conv.weight", {res, c.input_width(), 1});
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
  add("end_conv_2.weight", {c.outputs(), c.end_channels, 1});
  add("end_conv_2.bias", {c.outputs()});
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
  if (c.upsample_conv_in) add("upsample.conv_in.weight", {c.local_channels, c.local_channels, 2 * c.cin_pad + 1});
  for (size_t i = 0; i < c.upsample_scales.size(); ++i) {
    const std::string stage = "upsample.convs." + std::to_string(i);
    if (c.upsample_transposed) {
      add(stage + ".weight", {1, 1, c.upsample_freq_kernel, c.upsample_scales[i]});
      add(stage + ".bias", {1});
    } else {
      add(stage + ".weight", {1, 1, c.upsample_freq_kernel, 2 * c.upsample_scales[i] + 1});
    }
  }
  return specs;
}

}  // namespace

std::vector<TensorSpec> expected_tensors(const ModelConfig& config, const SchemeMap& schemes) {
  std::vector<TensorSpec> specs;
  for (TensorSpec spec : float_tensors(config)) {
    const auto it = schemes.find(spec.name);
    if (it == schemes.end() || it->second.scheme == Scheme::kF32) {
      specs.push_back(std::move(spec));
      continue;
    }
    for (TensorSpec& stored : quant::stored_tensors(spec.name, spec.shape, it->second)) specs.push_back(std::move(stored));
  }
  return specs;
}

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void check_schemes(const ModelConfig& config, const SchemeMap& schemes) {
  const auto names = quantizable_tensors(config);
  for (const auto& [name, scheme] : schemes) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw Error("model: '" + name + "' cannot carry a quantization scheme");
    }
    if (scheme.scheme == Scheme::kF32) throw Error("model: '" + name + "' lists the f32 scheme; leave it out");
    if (scheme.scheme.format >= weight_formats().size()) throw Error("model: '" + name + "' has an unknown format");
    const WeightFormat& format = scheme.scheme.weight_format();
    if (scheme.scheme.static_activations && (!format.integer || !runs_in_kernel(name))) {
      throw Error("model: '" + name + "' cannot take static activations (" + scheme_name(scheme.scheme) + ")");
    }
    if (const std::string problem = group_size_problem(format, scheme.group_size); !problem.empty()) {
      throw Error("model: '" + name + "': " + problem);
    }
  }
  // Filter and gate run as one matrix, and so do residual and skip: each pair shares a scheme.
  auto scheme_of = [&](const std::string& name) {
    const auto it = schemes.find(name);
    return it == schemes.end() ? TensorScheme{} : it->second;
  };
  for (int n = 0; n < config.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".weight";
    if (!(scheme_of("filter_convs" + i) == scheme_of("gate_convs" + i))) {
      throw Error("model: filter_convs" + i + " and gate_convs" + i + " must share a scheme");
    }
    if (!(scheme_of("residual_convs" + i) == scheme_of("skip_convs" + i))) {
      throw Error("model: residual_convs" + i + " and skip_convs" + i + " must share a scheme");
    }
  }
}

void check_values(const std::string& name, const Tensor& t) {
  switch (t.dtype) {
    case DType::F32:
      for (float v : t.f32()) {
        if (!std::isfinite(v)) throw Error("model: tensor '" + name + "' holds NaN or Inf");
      }
      if (name.ends_with(".scale") || name.ends_with(".input_scale")) {
        for (float v : t.f32()) {
          if (!(v > 0)) throw Error("model: scale tensor '" + name + "' holds a value <= 0");
        }
      }
      break;
    case DType::BF16:
      for (size_t i = 0; i + 1 < t.bytes.size(); i += 2) {
        if ((t.bytes[i + 1] & 0x7F) == 0x7F && (t.bytes[i] & 0x80)) {
          throw Error("model: tensor '" + name + "' holds NaN or Inf");
        }
      }
      break;
    case DType::I8:
      for (uint8_t b : t.bytes) {
        if (b == 0x80) throw Error("model: int8 tensor '" + name + "' holds -128 (symmetric codes are -127..127)");
      }
      break;
    case DType::U8: break;  // packed codes: every bit pattern is a valid code
  }
}

}  // namespace

Model::Model(ModelConfig config, std::map<std::string, Tensor> tensors, SchemeMap schemes)
    : config_(config), tensors_(std::move(tensors)), schemes_(std::move(schemes)) {
  config_.validate();
  check_schemes(config_, schemes_);
  const auto specs = expected_tensors(config_, schemes_);
  for (const auto& spec : specs) {
    auto it = tensors_.find(spec.name);
    if (it == tensors_.end()) throw Error("model: missing tensor '" + spec.name + "'");
    const Tensor& t = it->second;
    if (t.shape != spec.shape) {
      throw Error("model: tensor '" + spec.name + "' has shape " + shape_string(t.shape) +
                  ", the config needs " + shape_string(spec.shape));
    }
    if (t.dtype != spec.dtype) {
      throw Error("model: tensor '" + spec.name + "' is " + dtype_name(t.dtype) + ", expected " +
                  dtype_name(spec.dtype));
    }
    if (static_cast<int64_t>(t.bytes.size()) != t.numel() * dtype_size(t.dtype)) {
      throw Error("model: tensor '" + spec.name + "' has the wrong number of bytes");
    }
    check_values(spec.name, t);
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
  for (const auto& spec : expected_tensors(config_)) {
    int64_t numel = 1;
    for (int64_t d : spec.shape) numel *= d;
    n += numel;
  }
  return n;
}

std::vector<float> Model::dequantized(const std::string& name) const { return quant::dequantize(*this, name); }

TensorScheme Model::scheme_of(const std::string& name) const {
  const auto it = schemes_.find(name);
  return it == schemes_.end() ? TensorScheme{} : it->second;
}

}  // namespace fastwave
