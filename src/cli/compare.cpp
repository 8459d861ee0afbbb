// fastwave compare: how generated audio compares with real audio (docs/audio-quality.md):
// the log-mel Frechet distance between the two sets and the statistics that explain it.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "fastwave/audio_quality.h"

namespace fastwave::cli {
namespace {

// Every clip of the listed files and directories, resampled, at most `max_seconds` in all
// (0 = no limit; the last clip is cut).
std::vector<std::vector<float>> read_clips(const std::vector<std::string>& inputs, int rate,
                                           double max_seconds) {
  std::vector<std::vector<float>> clips;
  const int64_t budget = int64_t(max_seconds * rate);
  int64_t total = 0;
  for (const auto& input : inputs) {
    for (const auto& file : audio_files(input)) {
      if (budget > 0 && total >= budget) return clips;
      clips.push_back(read_audio(file, rate));
      if (budget > 0 && total + int64_t(clips.back().size()) > budget) clips.back().resize(budget - total);
      total += int64_t(clips.back().size());
    }
  }
  return clips;
}

nlohmann::json to_json(const AudioStats& s) {
  return {{"seconds", s.seconds},
          {"frames", s.frames},
          {"silent_fraction", s.silent_fraction},
          {"spectral_flatness", s.spectral_flatness},
          {"voiced_fraction", s.voiced_fraction},
          {"pitch_p5_hz", s.pitch_p5_hz},
          {"pitch_p50_hz", s.pitch_p50_hz},
          {"pitch_p95_hz", s.pitch_p95_hz},
          {"rms_dbfs", std::isfinite(s.rms_dbfs) ? nlohmann::json(s.rms_dbfs) : nlohmann::json()}};
}

void print_row(const char* name, const AudioStats& s) {
  std::printf("%-10s %8.1f %7.1f%% %9.3f %7.1f%% %6.0f %6.0f %6.0f %8.1f\n", name, s.seconds,
              100 * s.silent_fraction, s.spectral_flatness, 100 * s.voiced_fraction,
              s.pitch_p5_hz, s.pitch_p50_hz, s.pitch_p95_hz, s.rms_dbfs);
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "compare", "Log-mel Frechet distance and frame statistics of audio against reference audio");
  struct Options {
    std::vector<std::string> audio, ref;
    MelOptions mel;
    double max_seconds = 0;
    std::string json;
    bool paired = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("audio", o->audio, "Audio to judge: WAV files or directories")->required();
  cmd->add_option("--ref", o->ref, "Reference audio: WAV files or directories")->required();
  cmd->add_option("--rate", o->mel.sample_rate, "Sample rate everything is resampled to")->capture_default_str();
  cmd->add_option("--mels", o->mel.mels, "Mel bands")->capture_default_str();
  cmd->add_option("--max-seconds", o->max_seconds, "Read at most this much audio per side (0 = all)");
  cmd->add_option("--json", o->json, "Also write the result as JSON");
  cmd->add_flag("--paired", o->paired,
                "The clips are resyntheses of the reference clips, in the same order: also report the "
                "log-spectral distance and mel-cepstral distortion, frame by frame");
  cmd->callback([o] {
    if (!(o->max_seconds >= 0)) throw Error("--max-seconds must not be negative");
    const LogMel mel(o->mel);
    const auto audio = read_clips(o->audio, o->mel.sample_rate, o->max_seconds);
    const auto ref = read_clips(o->ref, o->mel.sample_rate, o->max_seconds);
    const double distance = frechet_distance(fit_mel_gaussian(audio, mel), fit_mel_gaussian(ref, mel));
    const AudioStats a = audio_stats(audio, o->mel), r = audio_stats(ref, o->mel);
    std::printf("%-10s %8s %8s %9s %8s %6s %6s %6s %8s\n", "", "seconds", "silent", "flatness",
                "voiced", "f0 p5", "p50", "p95", "dBFS");
    print_row("audio", a);
    print_row("reference", r);
    std::printf("log-mel Frechet distance: %.2f dB^2\n", distance);
    nlohmann::json result{{"log_mel_frechet_distance", distance}, {"audio", to_json(a)}, {"reference", to_json(r)}};
    if (o->paired) {
      const PairedDistances d = paired_distances(ref, audio, o->mel);
      std::printf("copy synthesis (%zu pairs, %lld frames): log-spectral distance %.2f dB, mel-cepstral "
                  "distortion %.2f dB\n",
                  audio.size(), static_cast<long long>(d.frames), d.log_spectral_distance_db,
                  d.mel_cepstral_distortion_db);
      result["paired"] = {{"pairs", audio.size()},
                          {"frames", d.frames},
                          {"log_spectral_distance_db", d.log_spectral_distance_db},
                          {"mel_cepstral_distortion_db", d.mel_cepstral_distortion_db}};
    }
    if (!o->json.empty()) {
      const std::string text = result.dump(2) + "\n";
      write_file_atomically(o->json, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
  });
}

}  // namespace fastwave::cli
