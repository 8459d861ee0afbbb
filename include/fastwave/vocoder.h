// The vocoder's input: the log-mel front end a model's config records (`local_mel`), the
// one definition behind `fastwave mel`, `fastwave vocode` and training on audio; and
// vocoding as the frames arrive (VocoderStream).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fastwave/audio_quality.h"
#include "fastwave/config.h"
#include "fastwave/network.h"

namespace fastwave {

// r9y9's defaults scaled to 16 kHz: 80 bands, hop 256 = [4, 4, 4, 4], conv_in over
// 2 + 1 + 2 frames, kernel size 3 in the dilated layers; a small network.
ModelConfig default_vocoder_config();

class MelFrontEnd {
 public:
  // Throws fastwave::Error when the config records no local_mel.
  explicit MelFrontEnd(const ModelConfig& config);

  int bands() const { return bands_; }
  int hop() const { return mel_.options().hop; }
  int sample_rate() const { return mel_.options().sample_rate; }
  // samples / hop (framing "librosa": 1 + samples / hop): frame f conditions samples
  // [f*hop, (f+1)*hop).
  int64_t frames(int64_t samples) const { return mel_.frames(samples); }
  // Row-major [frames][bands]: (10 log10 mel power - min_db) / (max_db - min_db), with the
  // power floored at min_db (log "log10": log10(max(mel, 1e-10))), then (v - mean) / std
  // when the config has them.
  std::vector<float> compute(std::span<const float> audio) const;
  // The features of a clip, and the clip made frames * hop samples long to match them:
  // cut before the features are computed (the default framing drops a remainder), or
  // padded with zeros after (framing "librosa" has a frame more than whole hops, as
  // upstream pads its training audio).
  std::vector<float> features_of(std::vector<float>& audio) const;

 private:
  static MelOptions options_of(const ModelConfig& config);
  LogMel mel_;
  int bands_;
  double min_db_, max_db_;
  bool log10_;
  std::vector<double> mean_, std_;
};

// Frames after frame f that f's samples depend on: the reach of the upsampling network
// (conv_in's cin_pad, and at most a frame per stage), 0 without one. What a VocoderStream
// waits for.
int lookahead_frames(const ModelConfig& config);

struct VocoderStreamOptions {
  int speaker = -1;  // for speaker-conditioned vocoders
  float temperature = 1.0f;
  uint64_t seed = 0;
};

// Vocoding with a bounded look-ahead: mel frames in as a front end makes them, sample codes
// out as soon as the frames received settle them. The codes are exactly those of vocoding
// the whole utterance at once (the silence code at sample 0, as generate()'s prime, then
// generate() on a fast generator with the same seed and temperature), however the frames
// are split. Memory stays bounded: only the frames the upsampling
// network can still reach are kept.
class VocoderStream {
 public:
  // Throws fastwave::Error unless the network has local conditioning.
  explicit VocoderStream(std::shared_ptr<const Network> network, const VocoderStreamOptions& options = {});
  ~VocoderStream();
  VocoderStream(const VocoderStream&) = delete;
  VocoderStream& operator=(const VocoderStream&) = delete;

  // How many frames after frame f must arrive before f's samples can be made (the reach
  // of the upsampling network; 0 without one), and that many hops of latency.
  int lookahead_frames() const;
  // Appends frames [n][local_channels] (n may be 0) and returns the codes they settle;
  // an AudioDecoder turns them into audio, piece by piece.
  std::vector<int> push(std::span<const float> frames);
  // No more frames: returns the rest, frames x local_hop codes in all.
  std::vector<int> finish();
  // Codes returned so far.
  int64_t samples() const { return emitted_; }

 private:
  std::vector<int> append(std::span<const float> frames, bool last);
  struct State;
  std::unique_ptr<State> state_;
  int64_t emitted_ = 0;
};

}  // namespace fastwave
