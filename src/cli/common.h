// Helpers shared by the subcommands.
#pragma once

#include <string>
#include <vector>

#include "fastwave/fastwave.h"

namespace fastwave::cli {

// -m MODEL if given, else $FASTWAVE_MODEL, else a shipped model: models/speech.fwm when a
// speaker is asked for, models/violin.fwm otherwise (the build's random-init placeholder
// if models/ has neither).
std::string resolve_model_path(const std::string& flag, bool wants_speaker = false);

// Conditioning from --speaker and --local-features (a [frames, channels] .npy).
Conditioning load_conditioning(const ModelConfig& config, int speaker, const std::string& local_features);

// A WAV file, or every .wav below a directory (sorted); throws if there are none.
std::vector<std::string> audio_files(const std::string& file_or_dir);

// Human-readable byte count: "2.63 MB".
std::string format_bytes(double bytes);

}  // namespace fastwave::cli
