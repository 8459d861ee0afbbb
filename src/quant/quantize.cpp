// Post-training quantization of a float model into any mix of schemes.
#include "fastwave/quantize.h"

#include "fastwave/error.h"
#include <algorithm>

#include "quant/weight_formats.h"

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

namespace {

// Each tensor's scheme: the layer and end schemes, then the explicit per-tensor ones.
SchemeMap tensor_schemes(const ModelConfig& c, const QuantizeOptions& options) {
  const std::vector<Scheme> schemes = resolve_schemes(c, options);
  SchemeMap map;
  auto set = [&](const std::string& name, Scheme scheme) {
    if (scheme == Scheme::kF32) return;
    map[name] = {scheme, scheme.weight_format().grouped ? options.group_size : 0};
  };
  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".weight";
    for (const char* conv : {"filter_convs", "gate_convs", "residual_convs", "skip_convs"}) set(conv + i, schemes[n]);
  }
  set("end_conv_1.weight", schemes.back());
  set("end_conv_2.weight", schemes.back());
  const auto names = quantizable_tensors(c);
  // The conditioning projections (a fifth of the vocoder's weights, half of its file when
  // they stayed float) run in float from dequantized weights, so 8-bit storage costs no
  // speed and, measured on the vocoder, no KL; uniform schemes keep them there. They still
  // tolerate fewer bits than the layers: a --budget-mb allocation chooses their bits like
  // any layer's and gave the warm-start vocoder 2-3 (docs/vocoder.md, session 18).
  const WeightFormat& base = options.scheme.weight_format();
  const Scheme conditioning = base.integer ? Scheme::integer(8, false) : options.scheme;
  for (const auto& name : names) {
    if (name.starts_with("global_") || name.starts_with("local_")) set(name, conditioning);
  }
  for (const auto& [name, scheme] : options.tensor_schemes) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw Error("'" + name + "' is not a weight this model can quantize");
    }
    if (scheme.scheme == Scheme::kF32) {
      map.erase(name);
    } else {
      map[name] = scheme;
    }
  }
  return map;
}

// The activation point (see calibrate_activation_clips) feeding a kernel weight.
int activation_point(const ModelConfig& c, const std::string& name) {
  if (name == "end_conv_1.weight") return 2 * c.num_layers();
  if (name == "end_conv_2.weight") return 2 * c.num_layers() + 1;
  const int layer = std::stoi(name.substr(name.find('.') + 1));
  const bool second = name.starts_with("residual_convs") || name.starts_with("skip_convs");
  return 2 * layer + (second ? 1 : 0);
}

}  // namespace

Model quantize(const Model& model, const QuantizeOptions& options) {
  if (model.is_quantized()) throw Error("the model is already quantized; quantize its float original instead");
  const ModelConfig& c = model.config();
  const SchemeMap schemes = tensor_schemes(c, options);
  bool any_static = false;
  for (const auto& [name, scheme] : schemes) {
    if (const std::string problem = group_size_problem(scheme.scheme.weight_format(), scheme.group_size);
        !problem.empty()) {
      throw Error(problem);
    }
    if (scheme.scheme.static_activations && !runs_in_kernel(name)) {
      throw Error("'" + name + "' is stored weight-only and cannot take " + scheme_name(scheme.scheme));
    }
    any_static |= scheme.scheme.static_activations;
  }
  if (any_static && options.calibration.empty() && options.activation_clips.empty()) {
    throw Error("static activation schemes need calibration audio (--calib FILE_OR_DIR)");
  }
  const std::vector<float> clips = !any_static                      ? std::vector<float>{}
                                   : !options.activation_clips.empty() ? options.activation_clips
                                                                       : calibrate_activation_clips(model, options);
  if (any_static && clips.size() != size_t(2 * c.num_layers() + 2)) throw Error("activation clips: wrong count");

  std::map<std::string, Tensor> tensors = model.tensors();
  for (const auto& [name, scheme] : schemes) {
    const float clip = scheme.scheme.static_activations ? clips[activation_point(c, name)] : 0.0f;
    for (auto& [stored, tensor] : quant::quantize_weight(name, model.tensor(name), scheme, clip)) {
      tensors[stored] = std::move(tensor);
    }
  }
  return Model(c, std::move(tensors), schemes);
}

}  // namespace fastwave
