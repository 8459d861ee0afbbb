#include "fastwave/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "fastwave/error.h"

namespace fastwave {
namespace {

void require_range(const char* name, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    throw Error("config: " + std::string(name) + " = " + std::to_string(value) +
                " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
}

int json_int(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_integer()) throw Error("config: " + what + " must be an integer");
  const auto value = v.get<int64_t>();
  if (value < INT32_MIN || value > INT32_MAX) throw Error("config: " + what + " is out of range");
  return static_cast<int>(value);
}

std::vector<int> read_scales(const nlohmann::json& v) {
  if (!v.is_array() || v.size() > 16) throw Error("config: upsample_scales must be an array of at most 16 integers");
  std::vector<int> scales;
  for (const auto& scale : v) scales.push_back(json_int(scale, "upsample_scales entry"));
  return scales;
}

ModelConfig::LocalMel read_local_mel(const nlohmann::json& v) {
  if (!v.is_object()) throw Error("config: local_mel must be an object");
  ModelConfig::LocalMel m;
  auto number = [](const nlohmann::json& x, const std::string& key) {
    if (!x.is_number()) throw Error("config: local_mel." + key + " must be a number");
    return x.get<double>();
  };
  auto string = [](const nlohmann::json& x, const std::string& key) {
    if (!x.is_string()) throw Error("config: local_mel." + key + " must be a string");
    return x.get<std::string>();
  };
  for (const auto& [key, value] : v.items()) {
    if (key == "fft_size") m.fft_size = json_int(value, "local_mel.fft_size");
    else if (key == "window") {
      if (!value.is_string()) throw Error("config: local_mel.window must be a string");
      m.window = value.get<std::string>();
    } else if (key == "min_hz") m.min_hz = number(value, key);
    else if (key == "max_hz") m.max_hz = number(value, key);
    else if (key == "min_db") m.min_db = number(value, key);
    else if (key == "max_db") m.max_db = number(value, key);
    else if (key == "spectrum") m.spectrum = string(value, key);
    else if (key == "mel_scale") m.mel_scale = string(value, key);
    else if (key == "filter_norm") m.filter_norm = string(value, key);
    else if (key == "pad") m.pad = string(value, key);
    else if (key == "framing") m.framing = string(value, key);
    else if (key == "log") m.log = string(value, key);
    else if (key == "mean" || key == "std") {
      if (!value.is_array()) throw Error("config: local_mel." + key + " must be an array of numbers");
      std::vector<double>& out = key == "mean" ? m.mean : m.std;
      out.clear();
      for (const auto& x : value) out.push_back(number(x, key + " entry"));
    } else throw Error("config: unknown key 'local_mel." + key + "'");
  }
  return m;
}

ModelConfig::Output read_output(const nlohmann::json& v) {
  if (!v.is_string()) throw Error("config: output must be a string");
  return parse_output(v.get<std::string>());
}

}  // namespace

const char* output_name(ModelConfig::Output output) {
  switch (output) {
    case ModelConfig::Output::kLogisticMixture: return "logistic_mixture";
    case ModelConfig::Output::kGaussianMixture: return "gaussian_mixture";
    default: return "softmax";
  }
}

ModelConfig::Output parse_output(const std::string& name) {
  for (auto o : {ModelConfig::Output::kSoftmax, ModelConfig::Output::kLogisticMixture,
                 ModelConfig::Output::kGaussianMixture}) {
    if (name == output_name(o)) return o;
  }
  throw Error("config: output '" + name + "' is not softmax, logistic_mixture or gaussian_mixture");
}

void ModelConfig::validate() const {
  require_range("blocks", blocks, 1, 64);
  require_range("layers_per_block", layers_per_block, 1, 16);
  require_range("residual_channels", residual_channels, 1, 4096);
  require_range("dilation_channels", dilation_channels, 1, 4096);
  require_range("skip_channels", skip_channels, 1, 8192);
  require_range("end_channels", end_channels, 1, 8192);
  require_range("classes", classes, 2, 65536);
  require_range("kernel_size", kernel_size, 2, 16);
  require_range("sample_rate", sample_rate, 1000, 384000);
  require_range("speakers", speakers, 0, 1 << 20);
  require_range("global_channels", global_channels, speakers > 0 ? 1 : 0, speakers > 0 ? 4096 : 0);
  require_range("local_channels", local_channels, 0, 4096);
  require_range("local_hop", local_hop, local_channels > 0 ? 1 : 0, local_channels > 0 ? 1 << 16 : 0);
  if (output == Output::kSoftmax) {
    require_range("mixtures", mixtures, 0, 0);
  } else {
    require_range("mixtures", mixtures, 1, 256);
    // The scalar input and the sampled values are 16-bit samples.
    if (classes != 65536) throw Error("config: a mixture output needs classes = 65536 (16-bit sample codes)");
    if (!(std::isfinite(log_scale_min) && log_scale_min < 0)) throw Error("config: log_scale_min must be finite and < 0");
  }
  if (!(preemphasis >= 0 && preemphasis < 1)) throw Error("config: preemphasis must be in [0, 1)");
  validate_vocoder();
}

void ModelConfig::validate_vocoder() const {
  if (!has_local() && (has_upsampling() || upsample_conv_in || local_mel)) {
    throw Error("config: upsample_scales, upsample_conv_in and local_mel need local_channels > 0");
  }
  if (has_upsampling()) {
    require_range("upsample_scales size", int(upsample_scales.size()), 1, 16);
    int64_t product = 1;
    for (int scale : upsample_scales) {
      require_range("upsample_scales entry", scale, 1, 1 << 16);
      product *= scale;
    }
    if (product != local_hop) {
      throw Error("config: upsample_scales multiply to " + std::to_string(product) + ", not local_hop = " +
                  std::to_string(local_hop));
    }
  }
  require_range("upsample_freq_kernel", upsample_freq_kernel, 1, has_upsampling() ? 2 * local_channels - 1 : 1);
  if (upsample_freq_kernel % 2 == 0) throw Error("config: upsample_freq_kernel must be odd");
  if (upsample_conv_in && !has_upsampling()) throw Error("config: upsample_conv_in needs upsample_scales");
  if (upsample_transposed && !has_upsampling()) throw Error("config: upsample_transposed needs upsample_scales");
  if (upsample_transposed && upsample_conv_in) throw Error("config: upsample_transposed stages take no conv_in");
  require_range("cin_pad", cin_pad, 0, upsample_conv_in ? 64 : 0);
  if (local_mel) {
    const LocalMel& m = *local_mel;
    require_range("local_mel.fft_size", m.fft_size, std::max(16, local_hop), 65536);
    require_range("local_channels (mel bands)", local_channels, 1, m.fft_size / 2);
    if (m.window != "hann") throw Error("config: local_mel.window '" + m.window + "' is not known (hann)");
    const double nyquist = sample_rate / 2.0;
    if (!(m.min_hz >= 0 && m.min_hz < nyquist)) throw Error("config: local_mel.min_hz must be in [0, sample_rate/2)");
    if (!(m.max_hz == 0 || (m.max_hz > m.min_hz && m.max_hz <= nyquist))) {
      throw Error("config: local_mel.max_hz must be 0 (Nyquist) or in (min_hz, sample_rate/2]");
    }
    if (!(std::isfinite(m.min_db) && std::isfinite(m.max_db) && m.max_db > m.min_db)) {
      throw Error("config: local_mel needs finite min_db < max_db");
    }
    auto one_of = [](const char* key, const std::string& value, const char* a, const char* b) {
      if (value != a && value != b) {
        throw Error("config: local_mel." + std::string(key) + " '" + value + "' is not " + a + " or " + b);
      }
    };
    one_of("spectrum", m.spectrum, "power", "magnitude");
    one_of("mel_scale", m.mel_scale, "htk", "slaney");
    one_of("filter_norm", m.filter_norm, "none", "slaney");
    one_of("pad", m.pad, "zeros", "reflect");
    one_of("framing", m.framing, "hop", "librosa");
    one_of("log", m.log, "db", "log10");
    for (const char* key : {"mean", "std"}) {
      const std::vector<double>& values = std::string(key) == "mean" ? m.mean : m.std;
      if (!values.empty() && int64_t(values.size()) != local_channels) {
        throw Error("config: local_mel." + std::string(key) + " has " + std::to_string(values.size()) +
                    " entries, not local_channels = " + std::to_string(local_channels));
      }
    }
    if (m.mean.empty() != m.std.empty()) throw Error("config: local_mel.mean and local_mel.std go together");
    for (double x : m.mean) {
      if (!std::isfinite(x)) throw Error("config: local_mel.mean entries must be finite");
    }
    for (double x : m.std) {
      if (!(std::isfinite(x) && x > 0)) throw Error("config: local_mel.std entries must be finite and > 0");
    }
  }
}

std::string ModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["blocks"] = blocks;
  j["layers_per_block"] = layers_per_block;
  j["residual_channels"] = residual_channels;
  j["dilation_channels"] = dilation_channels;
  j["skip_channels"] = skip_channels;
  j["end_channels"] = end_channels;
  j["classes"] = classes;
  j["kernel_size"] = kernel_size;
  j["bias"] = bias;
  j["sample_rate"] = sample_rate;
  j["speakers"] = speakers;
  j["global_channels"] = global_channels;
  j["local_channels"] = local_channels;
  j["local_hop"] = local_hop;
  // Written only when used, so configs without them keep their exact old JSON.
  if (has_upsampling()) {
    j["upsample_scales"] = upsample_scales;
    j["upsample_freq_kernel"] = upsample_freq_kernel;
    j["upsample_conv_in"] = upsample_conv_in;
    j["cin_pad"] = cin_pad;
    if (upsample_transposed) j["upsample_transposed"] = true;
  }
  if (output != Output::kSoftmax) {
    j["output"] = output_name(output);
    j["mixtures"] = mixtures;
    j["log_scale_min"] = log_scale_min;
  }
  if (preemphasis != 0) j["preemphasis"] = preemphasis;
  if (local_mel) {
    j["local_mel"] = {{"fft_size", local_mel->fft_size}, {"window", local_mel->window},
                      {"min_hz", local_mel->min_hz},     {"max_hz", local_mel->max_hz},
                      {"min_db", local_mel->min_db},     {"max_db", local_mel->max_db}};
    // The variants only when not fastwave's own, so older files keep their exact JSON.
    const LocalMel defaults;
    auto variant = [&](const char* key, const std::string& value, const std::string& fallback) {
      if (value != fallback) j["local_mel"][key] = value;
    };
    variant("spectrum", local_mel->spectrum, defaults.spectrum);
    variant("mel_scale", local_mel->mel_scale, defaults.mel_scale);
    variant("filter_norm", local_mel->filter_norm, defaults.filter_norm);
    variant("pad", local_mel->pad, defaults.pad);
    variant("framing", local_mel->framing, defaults.framing);
    variant("log", local_mel->log, defaults.log);
    if (!local_mel->mean.empty()) j["local_mel"]["mean"] = local_mel->mean;
    if (!local_mel->std.empty()) j["local_mel"]["std"] = local_mel->std;
  }
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error("config: not a JSON object");
  ModelConfig c;
  auto read_int = [&](const std::string& key, int& field) {
    const auto& v = j.at(key);
    if (!v.is_number_integer()) throw Error("config: " + key + " must be an integer");
    const auto value = v.get<int64_t>();
    if (value < INT32_MIN || value > INT32_MAX) throw Error("config: " + key + " is out of range");
    field = static_cast<int>(value);
  };
  auto read_bool = [&](const std::string& key, bool& field) {
    if (!j.at(key).is_boolean()) throw Error("config: " + key + " must be true or false");
    field = j.at(key).get<bool>();
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "bias") read_bool(key, c.bias);
    else if (key == "upsample_conv_in") read_bool(key, c.upsample_conv_in);
    else if (key == "upsample_transposed") read_bool(key, c.upsample_transposed);
    else if (key == "upsample_scales") c.upsample_scales = read_scales(value);
    else if (key == "local_mel") c.local_mel = read_local_mel(value);
    else if (key == "output") c.output = read_output(value);
    else if (key == "mixtures") read_int(key, c.mixtures);
    else if (key == "log_scale_min") {
      if (!value.is_number()) throw Error("config: log_scale_min must be a number");
      c.log_scale_min = value.get<double>();
    } else if (key == "preemphasis") {
      if (!value.is_number()) throw Error("config: preemphasis must be a number");
      c.preemphasis = value.get<double>();
    } else if (key == "upsample_freq_kernel") read_int(key, c.upsample_freq_kernel);
    else if (key == "cin_pad") read_int(key, c.cin_pad);
    else if (key == "blocks") read_int(key, c.blocks);
    else if (key == "layers_per_block") read_int(key, c.layers_per_block);
    else if (key == "residual_channels") read_int(key, c.residual_channels);
    else if (key == "dilation_channels") read_int(key, c.dilation_channels);
    else if (key == "skip_channels") read_int(key, c.skip_channels);
    else if (key == "end_channels") read_int(key, c.end_channels);
    else if (key == "classes") read_int(key, c.classes);
    else if (key == "kernel_size") read_int(key, c.kernel_size);
    else if (key == "sample_rate") read_int(key, c.sample_rate);
    else if (key == "speakers") read_int(key, c.speakers);
    else if (key == "global_channels") read_int(key, c.global_channels);
    else if (key == "local_channels") read_int(key, c.local_channels);
    else if (key == "local_hop") read_int(key, c.local_hop);
    else throw Error("config: unknown key '" + key + "'");
  }
  c.validate();
  return c;
}

}  // namespace fastwave
