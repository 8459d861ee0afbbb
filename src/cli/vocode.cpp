// fastwave vocode: speech from log-mel features with a vocoder (a model with local
// conditioning), one sample per position the features cover.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace fastwave::cli {
namespace {

// Checks a mel .npy's shape against the vocoder, with errors that name the file.
void check_mel_shape(const std::string& path, const std::vector<int64_t>& shape, const ModelConfig& c) {
  if (shape.size() != 2) throw Error("'" + path + "': mel must be 2-D [frames, " + std::to_string(c.local_channels) + "]");
  if (shape[1] != c.local_channels) {
    throw Error("'" + path + "' has " + std::to_string(shape[1]) + " bands; the vocoder takes " +
                std::to_string(c.local_channels));
  }
  if (shape[0] < 1) throw Error("'" + path + "' has no frames");
  if (shape[0] * c.local_hop > kMaxWavSamples) throw Error("'" + path + "' covers more samples than a WAV file holds");
}

// The mel .npy as conditioning (read whole).
Conditioning read_mel(const std::string& path, const ModelConfig& c) {
  std::vector<int64_t> shape;
  Conditioning conditioning;
  conditioning.local_features = read_npy(path, &shape);
  check_mel_shape(path, shape, c);
  conditioning.local_frames = static_cast<int>(shape[0]);
  return conditioning;
}

// Frames read per push when streaming: the upsampling network is recomputed over its
// reach for every push, so a few frames at a time cost little and add only a few hops of
// latency.
constexpr int64_t kFramesPerPush = 4;

void report(const std::string& out, int64_t samples, int64_t frames, double seconds, int sample_rate) {
  const double audio_seconds = double(samples) / sample_rate;
  std::printf("wrote %s: %lld samples (%.2f s of audio) from %lld frames in %.2f s: %.2fx real time (RTF %.3f)\n",
              out.c_str(), static_cast<long long>(samples), audio_seconds, static_cast<long long>(frames), seconds,
              audio_seconds / seconds, seconds / audio_seconds);
}

// One utterance, streamed: frames are read a few at a time (from a pipe as they are
// written) and the audio they settle goes to the WAV file at once, so memory stays flat
// however long the utterance.
void vocode_streaming(const Model& model, const std::string& mel, const std::string& out,
                      const VocoderStreamOptions& options, bool quiet) {
  const ModelConfig& c = model.config();
  NpyReader reader(mel);
  check_mel_shape(mel, reader.shape(), c);
  const int64_t total = reader.rows() * c.local_hop;
  VocoderStream stream(Network::build(model), options);
  WavWriter wav(out, c.sample_rate);
  AudioDecoder decoder(c);
  Progress progress("vocode", c.sample_rate, !quiet && total > c.sample_rate);
  for (int64_t read = 0; read < reader.rows(); read += kFramesPerPush) {
    wav.append(decoder.decode(stream.push(reader.read_rows(kFramesPerPush))));
    progress.update(stream.samples(), total);
  }
  wav.append(decoder.decode(stream.finish()));
  progress.update(stream.samples(), total);
  const double seconds = progress.finish();
  wav.commit();
  if (!quiet) report(out, total, reader.rows(), seconds, c.sample_rate);
}

}  // namespace

void add_vocode_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("vocode", "Turn log-mel features (fastwave mel) into audio with a vocoder");
  struct Options {
    std::string model, out;
    std::vector<std::string> mels;
    SamplingFlags sampling;
    int speaker = -1, threads = 1;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("-m,--model", o->model, "Vocoder model file (local conditioning on mel frames)")->required();
  cmd->add_option("--mel", o->mels,
                  "[frames, bands] float32 .npy, as fastwave mel writes; - reads it from standard input. Several "
                  "utterances run as streams over one copy of the weights, into OUT_0.wav, OUT_1.wav, ...")
      ->required();
  cmd->add_option("-o,--output", o->out, "WAV file to write (16-bit PCM, frames x hop samples)")->required();
  cmd->add_option("--threads", o->threads, "Threads that split several utterances")->check(CLI::Range(1, 256));
  add_sampling_options(*cmd, o->sampling);
  cmd->add_option("--speaker", o->speaker, "Speaker id, for speaker-conditioned vocoders")
      ->check(CLI::Range(0, kMaxSpeakerFlag));
  cmd->add_flag("-q,--quiet", o->quiet, "No progress output");
  add_memory_limit_option(*cmd);

  cmd->callback([o] {
    GenerateOptions options;
    options.seed = parse_seed(o->sampling.seed);
    options.temperature = o->sampling.temperature;
    const Model model = Model::load(o->model);
    const ModelConfig& c = model.config();
    if (!c.has_local()) throw Error("'" + o->model + "' has no local conditioning: it is not a vocoder");
    const int count = int(o->mels.size());
    if (std::count(o->mels.begin(), o->mels.end(), "-") > 1) throw Error("standard input (--mel -) can be read once");
    const Method method = o->sampling.parsed_method();
    if (count > 1 && method == Method::kNaive) throw Error("several --mel need the fast method");
    if (count == 1 && method == Method::kFast) {  // streamed: frames in, audio out as they settle
      vocode_streaming(model, o->mels[0], o->out, {o->speaker, options.temperature, options.seed}, o->quiet);
      return;
    }
    std::vector<Conditioning> conditionings;
    int64_t total = 0, frames = 0;
    for (const auto& mel : o->mels) {
      conditionings.push_back(read_mel(mel, c));
      conditionings.back().speaker = o->speaker;
      conditionings.back().check(c);
      total += conditionings.back().max_samples(c);
      frames += conditionings.back().local_frames;
    }
    // Position t holds sample t and its features (r9y9's alignment, and training's): the
    // silence prime stands for sample 0, then frames x hop - 1 samples are generated.
    std::vector<std::unique_ptr<WavWriter>> wavs;
    std::vector<AudioDecoder> decoders(count, AudioDecoder(c));
    for (int b = 0; b < count; ++b) {
      wavs.push_back(std::make_unique<WavWriter>(numbered_path(o->out, b, count), c.sample_rate));
      wavs.back()->append(decoders[b].decode(std::vector<int>{c.classes / 2}));
    }
    Progress progress("vocode", c.sample_rate, !o->quiet && total > c.sample_rate);
    options.progress = [&progress](int64_t done, int64_t all) { progress.update(done, all); };
    const auto network = Network::build(model);
    if (count == 1) {
      options.samples = total - 1;
      options.sink = [&](std::span<const int> ids) { wavs[0]->append(decoders[0].decode(ids)); };
      auto generator = make_generator(network, method, conditionings[0]);
      generate(*generator, c, options);
    } else {
      std::vector<StreamRequest> requests(count);
      for (int b = 0; b < count; ++b) {
        requests[b] = {conditionings[b], {}, conditionings[b].max_samples(c) - 1, options.temperature, options.seed};
      }
      const auto codes = generate_streams(*network, requests, {o->threads, options.progress});
      for (int b = 0; b < count; ++b) wavs[b]->append(decoders[b].decode(codes[b]));
    }
    const double seconds = progress.finish();
    for (auto& wav : wavs) wav->commit();
    if (!o->quiet) {
      report(count == 1 ? o->out : numbered_path(o->out, 0, count) + " ...", total, frames, seconds, c.sample_rate);
    }
  });
}

}  // namespace fastwave::cli
