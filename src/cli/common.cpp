#include "cli/common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace fastwave::cli {

std::string resolve_model_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FASTWAVE_MODEL"); env && *env) return env;
  for (const char* dir : {FASTWAVE_SOURCE_MODELS_DIR, FASTWAVE_BUILD_MODELS_DIR}) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / "default.fwm";
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  throw Error("no model given (-m) and no default model found in " FASTWAVE_SOURCE_MODELS_DIR
              " or " FASTWAVE_BUILD_MODELS_DIR "; build the 'default_model' target");
}

Conditioning load_conditioning(const ModelConfig& config, int speaker, const std::string& local_features) {
  Conditioning conditioning;
  conditioning.speaker = speaker;
  if (!local_features.empty()) {
    std::vector<int64_t> shape;
    conditioning.local_features = read_npy(local_features, &shape);
    if (shape.size() != 2 || shape[1] != config.local_channels) {
      throw Error("'" + local_features + "': local features must have shape [frames, " +
                  std::to_string(config.local_channels) + "]");
    }
    conditioning.local_frames = static_cast<int>(shape[0]);
  }
  conditioning.check(config);
  return conditioning;
}

std::string format_bytes(double bytes) {
  char text[32];
  if (bytes >= 1e6) std::snprintf(text, sizeof text, "%.2f MB", bytes / 1e6);
  else if (bytes >= 1e3) std::snprintf(text, sizeof text, "%.1f kB", bytes / 1e3);
  else std::snprintf(text, sizeof text, "%.0f B", bytes);
  return text;
}

}  // namespace fastwave::cli
