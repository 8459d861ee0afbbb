// Helpers shared by the subcommands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

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

// A seed is a decimal integer in [0, 2^64); anything else (-1, 2^64, 1e23) is refused
// rather than saturated. `flag` names the option in the error.
uint64_t parse_seed(const std::string& text, const std::string& flag = "--seed");

// A prime longer than this (10 minutes) is refused: it is only fed, one sample at a time.
inline constexpr double kMaxPrimeSeconds = 600;

// Largest speaker id a flag accepts (the config's own limit).
inline constexpr int kMaxSpeakerFlag = 1 << 20;

// A JSON config file (--config): read through io::InputFile, at most 1 MB, then parsed.
ModelConfig read_config_file(const std::string& path);

// --method, --temperature and --seed, as generate and vocode take them.
struct SamplingFlags {
  std::string method = "fast";
  float temperature = 1.0f;
  std::string seed = "0";
  Method parsed_method() const { return method == "naive" ? Method::kNaive : Method::kFast; }
};
void add_sampling_options(CLI::App& command, SamplingFlags& flags);

// OUT.wav for a single output; OUT_b.wav for output b of several (OUT_b without an extension).
std::string numbered_path(const std::string& file, int b, int count);

// --max-memory-mb: raises (or lowers) fastwave::memory_limit() for this run.
void add_memory_limit_option(CLI::App& command);

// Human-readable byte count: "2.63 MB".
std::string format_bytes(double bytes);

}  // namespace fastwave::cli
