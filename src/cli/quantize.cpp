// fastwave quantize: post-training quantization of a float model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/input_file.h"

namespace fastwave::cli {
namespace {

// "3=int4", "0-9=int8-dynamic", "end=bf16", "start=int4" or "conditioning=int6".
void apply_layer_scheme(const ModelConfig& config, const std::string& spec, QuantizeOptions& options) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) throw Error("--layer-scheme '" + spec + "' is not LAYERS=SCHEME (e.g. 0-9=int4, end=bf16)");
  const std::string layers = spec.substr(0, eq);
  const Scheme scheme = parse_scheme(spec.substr(eq + 1));
  if (layers == "end") {
    options.end_scheme = scheme;
    return;
  }
  if (layers == "start" || layers == "conditioning") {
    // Weight-only tensors: they never see quantized activations.
    if (scheme.static_activations) throw Error("--layer-scheme '" + spec + "': " + layers + " takes no static scheme");
    for (const auto& name : quantizable_tensors(config)) {
      const bool start = name.starts_with("start_conv"), cond = name.starts_with("global_") || name.starts_with("local_");
      if (layers == "start" ? start : cond) {
        options.tensor_schemes[name] = {scheme, scheme.weight_format().grouped ? options.group_size : 0};
      }
    }
    return;
  }
  try {
    size_t used = 0;
    const int first = std::stoi(layers, &used);
    int last = first;
    if (used < layers.size()) {
      if (layers[used] != '-') throw std::invalid_argument(layers);
      size_t used2 = 0;
      last = std::stoi(layers.substr(used + 1), &used2);
      if (used + 1 + used2 != layers.size()) throw std::invalid_argument(layers);
    }
    if (first < 0 || last < first || last - first > 100000) throw std::invalid_argument(layers);
    for (int l = first; l <= last; ++l) options.layer_schemes[l] = scheme;
  } catch (const std::logic_error&) {
    throw Error("--layer-scheme '" + spec + "': '" + layers + "' is not a layer, a range like 0-9, 'end', 'start' or 'conditioning'");
  }
}


// What every calibration clip shares: the speaker. A vocoder's features are each clip's own
// (read_calibration adds and checks them).
Conditioning shared_conditioning(const ModelConfig& c, int speaker) {
  if (!c.has_local()) return load_conditioning(c, speaker, "");
  Conditioning conditioning;
  conditioning.speaker = speaker;
  return conditioning;
}

// The first `seconds` of the audio in `file_or_dir`, as sample codes with the conditioning.
// A vocoder's clips carry their own features, from its mel front end (whole frames only).
std::vector<std::pair<std::vector<int>, Conditioning>> read_calibration(const ModelConfig& c, const std::string& file_or_dir,
                                                                       double max_seconds, const Conditioning& conditioning,
                                                                       double* seconds) {
  if (c.has_local() && !c.local_mel) {
    throw Error("calibration audio cannot condition this model: it takes local features but records no mel front end");
  }
  std::optional<MelFrontEnd> front_end;
  if (c.local_mel) front_end.emplace(c);
  std::vector<std::pair<std::vector<int>, Conditioning>> clips;
  *seconds = 0;
  for (const auto& file : audio_files(file_or_dir)) {
    if (*seconds >= max_seconds) break;
    const AudioLimit limit{std::max(1.0, max_seconds - *seconds), /*truncate=*/true};
    std::vector<float> audio = read_audio(file, c.sample_rate, limit);
    audio.resize(std::min<size_t>(audio.size(), size_t((max_seconds - *seconds) * c.sample_rate)));
    Conditioning clip_conditioning = conditioning;
    if (front_end) {
      const int64_t frames = front_end->frames(int64_t(audio.size()));
      if (frames < 1) continue;  // shorter than one frame: nothing to condition on
      clip_conditioning.local_features = front_end->features_of(audio);
      clip_conditioning.local_frames = int(frames);
      clip_conditioning.check(c);
    }
    std::vector<int> ids = encode_audio(c, audio);
    if (ids.size() < 2) ids.resize(2, c.classes / 2);
    *seconds += double(ids.size()) / c.sample_rate;
    clips.emplace_back(std::move(ids), std::move(clip_conditioning));
  }
  return clips;
}

// --calib-speaker-dirs: DIR/<speaker id>/*.wav, an equal share of the seconds from each
// speaker, each clip conditioned on its own speaker (the pooled calibration of several users).
std::vector<std::pair<std::vector<int>, Conditioning>> read_speaker_dirs(const ModelConfig& c, const std::string& dir,
                                                                        double max_seconds, double* seconds) {
  if (!c.has_global()) throw Error("--calib-speaker-dirs needs a speaker-conditioned model");
  std::vector<int> speakers;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.empty() || name.size() > 7 ||
        name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    if (std::stoi(name) < c.speakers) speakers.push_back(std::stoi(name));
  }
  if (error) throw Error("'" + dir + "': " + error.message());
  if (speakers.empty()) throw Error("'" + dir + "' has no subdirectory named by a speaker id (0.." + std::to_string(c.speakers - 1) + ")");
  std::sort(speakers.begin(), speakers.end());
  std::vector<std::pair<std::vector<int>, Conditioning>> clips;
  *seconds = 0;
  for (int speaker : speakers) {
    Conditioning conditioning;
    conditioning.speaker = speaker;
    double got = 0;
    for (auto& clip : read_calibration(c, dir + "/" + std::to_string(speaker), max_seconds / double(speakers.size()),
                                       conditioning, &got)) {
      clips.push_back(std::move(clip));
    }
    *seconds += got;
  }
  return clips;
}

// The sensitivity column of an earlier --report-csv, checked against this model's units.
std::vector<double> read_sensitivities(const ModelConfig& c, const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path, "report CSV", 1 << 20);
  std::istringstream text(std::string(bytes.begin(), bytes.end()));
  const auto names = allocation_unit_names(c);
  std::vector<double> values;
  std::string line;
  std::getline(text, line);
  if (line.rfind("unit,tensors,parameters,sensitivity", 0) != 0) throw Error("'" + path + "' is not a --report-csv file");
  while (std::getline(text, line) && values.size() < names.size()) {
    std::vector<std::string> fields;
    std::istringstream row(line);
    for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
    if (fields.size() < 4 || fields[0] != names[values.size()]) {
      throw Error("'" + path + "' line " + std::to_string(values.size() + 2) + " is not unit '" + names[values.size()] + "'");
    }
    try {
      values.push_back(std::stod(fields[3]));
    } catch (const std::exception&) {
      throw Error("'" + path + "': sensitivity '" + fields[3] + "' is not a number");
    }
  }
  if (values.size() != names.size()) throw Error("'" + path + "' lists fewer units than this model has");
  return values;
}

void write_report(const BudgetResult& result, int64_t budget, const std::string& csv_path) {
  std::printf("%-28s %10s %12s %5s %10s\n", "unit", "params", "sensitivity", "bits", "bytes");
  std::string csv = "unit,tensors,parameters,sensitivity,bits,bytes\n";
  for (const auto& u : result.units) {
    std::printf("%-28s %10lld %12.4g %5d %10lld\n", u.name.c_str(), static_cast<long long>(u.parameters), u.sensitivity,
                u.bits, static_cast<long long>(u.bytes));
    std::string tensors;
    for (const auto& t : u.tensors) tensors += (tensors.empty() ? "" : " ") + t;
    char line[160];
    std::snprintf(line, sizeof line, ",%lld,%.6g,%d,%lld\n", static_cast<long long>(u.parameters), u.sensitivity, u.bits,
                  static_cast<long long>(u.bytes));
    csv += u.name + "," + tensors + line;
  }
  char total[200];
  std::snprintf(total, sizeof total, "total,file,,,%.3f,%lld\n", result.mean_bits, static_cast<long long>(result.file_bytes));
  csv += total;
  std::printf("file %lld bytes (%.4f MiB) of a %lld-byte budget (%.4f MiB); mean weight width %.2f bits\n",
              static_cast<long long>(result.file_bytes), result.file_bytes / 1048576.0, static_cast<long long>(budget),
              budget / 1048576.0, result.mean_bits);
  if (!csv_path.empty()) write_file_atomically(csv_path, std::span(reinterpret_cast<const uint8_t*>(csv.data()), csv.size()));
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a float model: one scheme, a per-layer mix, or a size budget");
  struct Options {
    std::string in, out, scheme = "int8-dynamic", calib, method = "minmax";
    std::vector<std::string> layer_schemes;
    int group_size = 32, speaker = -1, probe_bits = 4;
    double percentile = 99.99, calib_seconds = 60;
    double budget_mb = 0, probe_seconds = 1;
    std::string sensitivity_from;
    bool speaker_dirs = false;
    std::string allocator = "greedy-kl", sensitivity = "median", order = "descending", report_csv;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("model", o->in, "Float model to quantize")->required();
  cmd->add_option("-o,--output", o->out, "Quantized model file to write")->required();
  cmd->add_option("--scheme", o->scheme, "For every layer: " + scheme_names())->capture_default_str();
  cmd->add_option("--layer-scheme", o->layer_schemes,
                  "Override LAYERS=SCHEME: 3=int4, 0-9=bf16, end=int8-dynamic, start=int4, conditioning=int6");
  cmd->add_option("--group-size", o->group_size, "int2..int4: input columns per scale (multiple of 8)")->capture_default_str();
  cmd->add_option("--calib", o->calib, "Calibration audio (static schemes, --budget-mb): a WAV file or a directory of them");
  cmd->add_option("--calib-method", o->method, "Activation range: minmax, percentile, mse or cosine")->capture_default_str();
  cmd->add_option("--percentile", o->percentile, "For --calib-method percentile")->check(CLI::Range(50.0, 100.0))->capture_default_str();
  cmd->add_option("--calib-seconds", o->calib_seconds, "Use at most this much calibration audio")
      ->check(CLI::Range(0.01, 36000.0))->capture_default_str();
  cmd->add_option("--speaker", o->speaker, "Speaker of the calibration audio, for speaker-conditioned models")
      ->check(CLI::Range(0, kMaxSpeakerFlag));
  cmd->add_flag("--calib-speaker-dirs", o->speaker_dirs,
                "--calib is a directory of one subdirectory per speaker id; each clip is conditioned on its own");
  auto* budget = cmd->add_option("--budget-mb", o->budget_mb,
                                 "Choose per-layer widths (2..8 bits) so the whole file fits X MiB (X * 2^20 bytes)")
                     ->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--allocator", o->allocator, "With --budget-mb: greedy-kl or myqasr")->capture_default_str()->needs(budget);
  cmd->add_option("--sensitivity", o->sensitivity, "myqasr ranking: median, mean, max, std (of |output|), kl, l1, l2")
      ->capture_default_str()->needs(budget);
  cmd->add_option("--order", o->order, "myqasr: descending (largest first loses bits, its default) or ascending")
      ->capture_default_str()->needs(budget);
  cmd->add_option("--probe-seconds", o->probe_seconds, "Calibration audio the per-layer KL probes run over")
      ->check(CLI::Range(0.01, 600.0))->capture_default_str()->needs(budget);
  cmd->add_option("--probe-bits", o->probe_bits, "greedy-kl: the width each unit's KL is probed at")
      ->check(CLI::Range(2, 8))->capture_default_str()->needs(budget);
  cmd->add_option("--sensitivity-from", o->sensitivity_from,
                  "Reuse the sensitivities of an earlier --report-csv (same model, allocator and audio)")
      ->needs(budget);
  cmd->add_option("--report-csv", o->report_csv, "With --budget-mb: write the per-layer report as CSV")->needs(budget);
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    const Model model = Model::load(o->in);
    const ModelConfig& c = model.config();
    const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    auto calibration = [&] {
      if (o->calib.empty()) throw Error("--calib is needed: the audio to calibrate on");
      double seconds = 0;
      if (o->speaker_dirs && o->speaker >= 0) throw Error("--calib-speaker-dirs and --speaker exclude each other");
      auto clips = o->speaker_dirs ? read_speaker_dirs(c, o->calib, o->calib_seconds, &seconds)
                                   : read_calibration(c, o->calib, o->calib_seconds, shared_conditioning(c, o->speaker), &seconds);
      std::printf("calibration: %.1f s of audio from %s\n", seconds, o->calib.c_str());
      return clips;
    };
    Model quantized;
    if (o->budget_mb > 0) {
      BudgetOptions options;
      options.budget_bytes = int64_t(std::floor(o->budget_mb * 1048576.0));
      options.allocator = parse_allocator(o->allocator);
      options.sensitivity = parse_sensitivity(o->sensitivity);
      options.order = parse_sensitivity_order(o->order);
      options.group_size = o->group_size;
      options.probe_seconds = o->probe_seconds;
      options.probe_bits = o->probe_bits;
      options.threads = threads;
      if (model.is_quantized()) throw Error("'" + o->in + "' is already quantized; give --budget-mb its float original");
      options.calibration = calibration();
      if (!o->sensitivity_from.empty()) options.sensitivities = read_sensitivities(c, o->sensitivity_from);
      options.progress = [](int done, int total) {
        std::fprintf(stderr, "\rprobing layers: %d/%d", done, total);
        if (done == total) std::fprintf(stderr, "\n");
      };
      BudgetResult result = quantize_to_budget(model, options);
      write_report(result, options.budget_bytes, o->report_csv);
      quantized = std::move(result.model);
    } else {
      QuantizeOptions options;
      options.group_size = o->group_size;
      options.scheme = parse_scheme(o->scheme);
      for (const auto& spec : o->layer_schemes) apply_layer_scheme(c, spec, options);
      options.method = parse_calibration_method(o->method);
      options.percentile = o->percentile;
      options.threads = threads;
      // Only static schemes read audio; quantize() itself rejects one without it.
      bool needs_calibration = false;
      for (Scheme s : resolve_schemes(c, options)) needs_calibration |= s.static_activations;
      if (needs_calibration && !o->calib.empty() && !model.is_quantized()) options.calibration = calibration();
      quantized = quantize(model, options);
    }
    quantized.save(o->out);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double in_bytes = double(std::filesystem::file_size(o->in)), out_bytes = double(std::filesystem::file_size(o->out));
    std::printf("wrote %s: %s -> %s (%.2fx smaller), calibrated and converted in %.2f s\n", o->out.c_str(),
                format_bytes(in_bytes).c_str(), format_bytes(out_bytes).c_str(), in_bytes / out_bytes, elapsed);
  });
}

}  // namespace fastwave::cli
