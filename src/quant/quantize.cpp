// Post-training quantization of a float model into any mix of schemes.
#include "fastwave/quantize.h"

#include "fastwave/error.h"
#include "quant/weights.h"

namespace fastwave {

std::vector<Scheme> resolve_schemes(const ModelConfig& config, const QuantizeOptions& options) {
  std::vector<Scheme> schemes(config.num_layers() + 1, options.scheme);
  for (const auto& [layer, scheme] : options.layer_schemes) {
    if (layer < 0 || layer >= config.num_layers()) {
      throw Error("layer " + std::to_string(layer) + " does not exist (the model has layers 0.." +
                  std::to_string(config.num_layers() - 1) + ")");
    }
    schemes[layer] = scheme;
  }
  if (options.end_scheme) schemes.back() = *options.end_scheme;
  return schemes;
}

Model quantize(const Model& model, const QuantizeOptions& options) {
  if (model.is_quantized()) throw Error("the model is already quantized; quantize its float original instead");
  const ModelConfig& c = model.config();
  const std::vector<Scheme> schemes = resolve_schemes(c, options);
  bool any_static = false, any_int4 = false;
  for (Scheme s : schemes) any_static |= s == Scheme::kInt8Static, any_int4 |= s == Scheme::kInt4;
  if (any_int4 && (options.group_size <= 0 || options.group_size % 8 != 0 || options.group_size > 4096)) {
    throw Error("int4 group size must be a multiple of 8 between 8 and 4096, got " + std::to_string(options.group_size));
  }
  if (any_static && options.calibration.empty()) {
    throw Error("int8-static needs calibration audio (--calib FILE_OR_DIR)");
  }
  const std::vector<float> clips = any_static ? calibrate_activation_clips(model, options) : std::vector<float>{};

  std::map<std::string, Tensor> tensors = model.tensors();
  SchemeMap scheme_map;
  // Each tensor with its scheme and its activation point (see calibrate_activation_clips).
  auto convert = [&](const std::string& name, Scheme scheme, int point) {
    if (scheme == Scheme::kF32) return;
    const Tensor& weight = model.tensor(name);
    TensorScheme ts{scheme, scheme == Scheme::kInt4 ? options.group_size : 0};
    switch (scheme) {
      case Scheme::kBf16: tensors[name] = quant::to_bf16(weight); break;
      case Scheme::kInt8Dynamic:
      case Scheme::kInt8Static: {
        auto q = quant::to_int8(weight);
        tensors[name] = std::move(q.codes);
        tensors[name + ".scale"] = std::move(q.scale);
        if (scheme == Scheme::kInt8Static) {
          tensors[name + ".input_scale"] = Tensor::from_floats({1}, std::vector<float>{clips[point] / 127.0f});
        }
        break;
      }
      case Scheme::kInt4: {
        auto q = quant::to_int4(weight, options.group_size);
        tensors[name] = std::move(q.codes);
        tensors[name + ".scale"] = std::move(q.scale);
        break;
      }
      case Scheme::kF32: break;
    }
    scheme_map[name] = ts;
  };
  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".weight";
    convert("filter_convs" + i, schemes[n], 2 * n);
    convert("gate_convs" + i, schemes[n], 2 * n);
    convert("residual_convs" + i, schemes[n], 2 * n + 1);
    convert("skip_convs" + i, schemes[n], 2 * n + 1);
  }
  convert("end_conv_1.weight", schemes.back(), 2 * c.num_layers());
  convert("end_conv_2.weight", schemes.back(), 2 * c.num_layers() + 1);
  return Model(c, std::move(tensors), std::move(scheme_map));
}

}  // namespace fastwave
