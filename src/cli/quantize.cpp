// fastwave quantize: post-training quantization of a float model.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"

namespace fastwave::cli {
namespace {

// "3=int4", "0-9=int8-dynamic" or "end=bf16".
void apply_layer_scheme(const std::string& spec, QuantizeOptions& options) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) throw Error("--layer-scheme '" + spec + "' is not LAYERS=SCHEME (e.g. 0-9=int4, end=bf16)");
  const std::string layers = spec.substr(0, eq);
  const Scheme scheme = parse_scheme(spec.substr(eq + 1));
  if (layers == "end") {
    options.end_scheme = scheme;
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
    throw Error("--layer-scheme '" + spec + "': '" + layers + "' is not a layer, a range like 0-9, or 'end'");
  }
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a float model (bf16, int8-dynamic, int8-static, int4)");
  struct Options {
    std::string in, out, scheme = "int8-dynamic", calib, method = "minmax";
    std::vector<std::string> layer_schemes;
    int group_size = 32, speaker = -1;
    double percentile = 99.99, calib_seconds = 60;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("model", o->in, "Float model to quantize")->required();
  cmd->add_option("-o,--output", o->out, "Quantized model file to write")->required();
  cmd->add_option("--scheme", o->scheme, "bf16, int8-dynamic, int8-static or int4, for every layer")->capture_default_str();
  cmd->add_option("--layer-scheme", o->layer_schemes, "Per-layer override LAYERS=SCHEME: 3=int4, 0-9=bf16, end=int8-dynamic");
  cmd->add_option("--group-size", o->group_size, "int4: input columns per scale (multiple of 8)")->capture_default_str();
  cmd->add_option("--calib", o->calib, "Calibration audio for int8-static: a WAV file or a directory of them");
  cmd->add_option("--calib-method", o->method, "Activation range: minmax, percentile, mse or cosine")->capture_default_str();
  cmd->add_option("--percentile", o->percentile, "For --calib-method percentile")->check(CLI::Range(50.0, 100.0))->capture_default_str();
  cmd->add_option("--calib-seconds", o->calib_seconds, "Use at most this much calibration audio")
      ->check(CLI::Range(0.01, 36000.0))->capture_default_str();
  cmd->add_option("--speaker", o->speaker, "Speaker of the calibration audio, for speaker-conditioned models")
      ->check(CLI::Range(0, kMaxSpeakerFlag));
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    const Model model = Model::load(o->in);
    const ModelConfig& c = model.config();
    QuantizeOptions options;
    options.scheme = parse_scheme(o->scheme);
    for (const auto& spec : o->layer_schemes) apply_layer_scheme(spec, options);
    options.group_size = o->group_size;
    options.method = parse_calibration_method(o->method);
    options.percentile = o->percentile;
    options.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    // Only int8-static reads audio; quantize() itself rejects a static scheme without it.
    bool needs_calibration = false;
    for (Scheme s : resolve_schemes(c, options)) needs_calibration |= s == Scheme::kInt8Static;
    if (needs_calibration && !o->calib.empty() && !model.is_quantized()) {
      const Conditioning conditioning = load_conditioning(c, o->speaker, "");
      double seconds = 0;
      for (const auto& file : audio_files(o->calib)) {
        if (seconds >= o->calib_seconds) break;
        const AudioLimit limit{std::max(1.0, o->calib_seconds - seconds), /*truncate=*/true};
        std::vector<int> ids = mulaw_encode(read_audio(file, c.sample_rate, limit), c.classes);
        const auto keep = size_t(std::min<double>(ids.size(), (o->calib_seconds - seconds) * c.sample_rate));
        ids.resize(std::max<size_t>(keep, 2));
        seconds += double(ids.size()) / c.sample_rate;
        options.calibration.emplace_back(std::move(ids), conditioning);
      }
      std::printf("calibration: %.1f s of audio from %s, method %s\n", seconds, o->calib.c_str(), o->method.c_str());
    }
    const Model quantized = quantize(model, options);
    quantized.save(o->out);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double in_bytes = double(std::filesystem::file_size(o->in)), out_bytes = double(std::filesystem::file_size(o->out));
    std::printf("wrote %s: %s -> %s (%.2fx smaller), calibrated and converted in %.2f s\n", o->out.c_str(),
                format_bytes(in_bytes).c_str(), format_bytes(out_bytes).c_str(), in_bytes / out_bytes, elapsed);
  });
}

}  // namespace fastwave::cli
