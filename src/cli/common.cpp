#include "cli/common.h"

#include "io/input_file.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace fastwave::cli {

std::string resolve_model_path(const std::string& flag, bool wants_speaker) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FASTWAVE_MODEL"); env && *env) return env;
  namespace fs = std::filesystem;
  const fs::path shipped(FASTWAVE_SOURCE_MODELS_DIR);
  if (wants_speaker && fs::exists(shipped / "speech.fwm")) return (shipped / "speech.fwm").string();
  if (fs::exists(shipped / "violin.fwm")) return (shipped / "violin.fwm").string();
  const fs::path placeholder = fs::path(FASTWAVE_BUILD_MODELS_DIR) / "default.fwm";
  if (fs::exists(placeholder)) return placeholder.string();
  throw Error("no model given (-m) and no shipped model in " FASTWAVE_SOURCE_MODELS_DIR);
}

Conditioning load_conditioning(const ModelConfig& config, int speaker, const std::string& local_features) {
  Conditioning conditioning;
  conditioning.speaker = speaker;
  if (!local_features.empty()) {
    std::vector<int64_t> shape;
    conditioning.local_features = read_npy(local_features, &shape);
    if (shape.size() != 2 || shape[1] != config.local_channels || shape[0] > INT32_MAX) {
      throw Error("'" + local_features + "': local features must have shape [frames, " +
                  std::to_string(config.local_channels) + "]");
    }
    conditioning.local_frames = static_cast<int>(shape[0]);
  }
  conditioning.check(config);
  return conditioning;
}

std::vector<std::string> audio_files(const std::string& file_or_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(file_or_dir, ec)) throw Error("'" + file_or_dir + "' does not exist");
  if (!fs::is_directory(file_or_dir, ec)) return {file_or_dir};
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(file_or_dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".wav") files.push_back(entry.path().string());
  }
  if (ec) throw Error("cannot list '" + file_or_dir + "': " + ec.message());
  if (files.empty()) throw Error("no .wav files in '" + file_or_dir + "'");
  std::sort(files.begin(), files.end());
  return files;
}

uint64_t parse_seed(const std::string& text, const std::string& flag) {
  uint64_t seed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seed);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw Error(flag + " '" + text + "' is not an integer in [0, 18446744073709551615]");
  }
  return seed;
}

ModelConfig read_config_file(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path, "config", 1 << 20);
  try {
    return ModelConfig::from_json(std::string(bytes.begin(), bytes.end()));
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

void add_sampling_options(CLI::App& command, SamplingFlags& flags) {
  command.add_option("--method", flags.method, "fast (cached, O(layers) per sample) or naive (recomputes the receptive field)")
      ->check(CLI::IsMember({"fast", "naive"}))
      ->capture_default_str();
  command
      .add_option("--temperature", flags.temperature,
                  "Sampling temperature (softmax logits / T; a mixture's noise x T); 0 = most probable")
      ->check(CLI::Range(0.0f, 100.0f))
      ->capture_default_str();
  command.add_option("--seed", flags.seed, "Random seed for sampling, an integer in [0, 2^64)")->capture_default_str();
}

std::string numbered_path(const std::string& file, int b, int count) {
  if (count == 1) return file;
  const auto dot = file.find_last_of('.');
  const bool has_ext = dot != std::string::npos && file.find('/', dot) == std::string::npos;
  return (has_ext ? file.substr(0, dot) : file) + "_" + std::to_string(b) + (has_ext ? file.substr(dot) : "");
}

void add_memory_limit_option(CLI::App& command) {
  command
      .add_option_function<double>(
          "--max-memory-mb", [](double mb) { set_memory_limit(static_cast<uint64_t>(mb * 1e6)); },
          "Refuse models whose working memory exceeds this many MB (default " +
              std::to_string(kDefaultMemoryLimit / 1000000) + "; 0 = no limit)")
      ->check(CLI::Range(0.0, 1e12));
}

std::string format_bytes(double bytes) {
  char text[32];
  if (bytes >= 1e6) std::snprintf(text, sizeof text, "%.2f MB", bytes / 1e6);
  else if (bytes >= 1e3) std::snprintf(text, sizeof text, "%.1f kB", bytes / 1e3);
  else std::snprintf(text, sizeof text, "%.0f B", bytes);
  return text;
}

}  // namespace fastwave::cli
