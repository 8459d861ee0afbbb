#include "fastwave/config.h"

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

}  // namespace

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
  for (const auto& [key, value] : j.items()) {
    if (key == "bias") {
      if (!value.is_boolean()) throw Error("config: bias must be true or false");
      c.bias = value.get<bool>();
    } else if (key == "blocks") read_int(key, c.blocks);
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
