// Audio files through libsndfile, read block by block; rate conversion through libsoxr,
// streamed, so memory follows the audio actually decoded and never a header's claims.
#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>

#include "fastwave/audio.h"
#include "fastwave/error.h"
#include "io/input_file.h"
#include "io/output_file.h"

namespace fastwave {
namespace {

// Decoded audio, mixed to mono, resampled and appended to `out` with the length limit.
class AudioSink {
 public:
  AudioSink(const std::string& path, int file_rate, int sample_rate, const AudioLimit& limit, std::vector<float>& out)
      : path_(path), out_(out) {
    const double seconds = std::min(limit.max_seconds, double(std::numeric_limits<int32_t>::max()) / sample_rate);
    max_samples_ = static_cast<size_t>(seconds * sample_rate);
    truncate_ = limit.truncate;
    if (file_rate != sample_rate) {
      ratio_ = double(sample_rate) / file_rate;
      const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
      soxr_error_t error = nullptr;
      soxr_ = soxr_create(file_rate, sample_rate, 1, &error, nullptr, &quality, nullptr);
      if (error) throw Error("'" + path + "': resampling failed: " + error);
    }
  }
  ~AudioSink() { soxr_delete(soxr_); }

  // Returns false once the limit is reached with truncation on: stop reading.
  bool add(const float* mono, size_t n) {
    if (!soxr_) return append(mono, n);
    while (n > 0 || mono == nullptr) {
      resampled_.resize(size_t(std::ceil(std::max<size_t>(n, 1) * ratio_)) + 64);
      size_t used = 0, made = 0;
      const soxr_error_t error = soxr_process(soxr_, mono, n, &used, resampled_.data(), resampled_.size(), &made);
      if (error) throw Error("'" + path_ + "': resampling failed: " + error);
      if (!append(resampled_.data(), made)) return false;
      if (mono == nullptr) {
        if (made == 0) break;  // flushed
        continue;
      }
      mono += used;
      n -= used;
      if (used == 0 && made == 0) break;
    }
    return true;
  }
  void finish() {
    if (soxr_) add(nullptr, 0);
  }

 private:
  bool append(const float* samples, size_t n) {
    if (out_.size() + n > max_samples_) {
      if (!truncate_) {
        throw Error("'" + path_ + "': longer than the limit of " + std::to_string(max_samples_) +
                    " samples for this input");
      }
      out_.insert(out_.end(), samples, samples + (max_samples_ - out_.size()));
      return false;
    }
    out_.insert(out_.end(), samples, samples + n);
    return true;
  }

  std::string path_;
  std::vector<float>& out_;
  size_t max_samples_ = 0;
  bool truncate_ = false;
  double ratio_ = 1;
  soxr_t soxr_ = nullptr;
  std::vector<float> resampled_;
};

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

}  // namespace

std::vector<float> read_audio(const std::string& path, int sample_rate, const AudioLimit& limit) {
  io::InputFile input(path, "audio file");
  SF_INFO info{};
  // libsndfile reads through our descriptor (a checked regular file) and leaves it to us.
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open_fd(input.fd(), SFM_READ, &info, /*close_desc=*/0));
  if (!file) throw Error("'" + path + "': " + sf_strerror(nullptr));
  if (info.channels < 1 || info.samplerate <= 0) throw Error("'" + path + "': no audio channels");
  if (int64_t(info.samplerate) * kMaxUpsampling < sample_rate) {
    throw Error("'" + path + "': its rate of " + std::to_string(info.samplerate) + " Hz is more than " +
                std::to_string(kMaxUpsampling) + "x below the model's " + std::to_string(sample_rate) + " Hz");
  }
  std::vector<float> out;
  AudioSink sink(path, info.samplerate, sample_rate, limit, out);
  // About 256 kB of interleaved samples per block, whatever the channel count.
  const sf_count_t block_frames = std::max(1, (1 << 16) / info.channels);
  std::vector<float> interleaved(static_cast<size_t>(block_frames) * info.channels);
  std::vector<float> mono(static_cast<size_t>(block_frames));
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), block_frames);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      double sum = 0;
      for (int ch = 0; ch < info.channels; ++ch) sum += interleaved[size_t(i) * info.channels + ch];
      mono[i] = static_cast<float>(sum / info.channels);
      if (!std::isfinite(mono[i])) throw Error("'" + path + "': holds NaN or Inf samples");
    }
    if (!sink.add(mono.data(), size_t(got))) return out;
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) throw Error("'" + path + "': " + sf_strerror(file.get()));
  sink.finish();
  if (out.empty()) throw Error("'" + path + "': no samples");
  return out;
}

struct WavWriter::State {
  io::OutputFile output;
  std::unique_ptr<SNDFILE, SndfileCloser> file;
  int64_t samples = 0;
  explicit State(const std::string& path) : output(path) {}
};

WavWriter::WavWriter(const std::string& path, int sample_rate) : state_(std::make_unique<State>(path)) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  state_->file.reset(sf_open_fd(state_->output.fd(), SFM_WRITE, &info, /*close_desc=*/0));
  if (!state_->file) throw Error("cannot write '" + path + "': " + sf_strerror(nullptr));
}

WavWriter::~WavWriter() = default;

void WavWriter::append(std::span<const float> samples) {
  if (!state_->file) throw Error("'" + state_->output.path() + "' was already committed");
  if (state_->samples + int64_t(samples.size()) > kMaxWavSamples) {
    throw Error("cannot write '" + state_->output.path() + "': a WAV file holds at most " +
                std::to_string(kMaxWavSamples) + " samples");
  }
  // Our own conversion, 32768 steps per unit as reading divides by (libsndfile would scale by
  // 32767): a 16-bit sample read and written again is the same sample, so the 16-bit codes
  // of mixture models reach the file exactly.
  std::vector<int16_t> pcm(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const float x = std::isnan(samples[i]) ? 0.0f : samples[i];
    pcm[i] = int16_t(std::clamp(std::nearbyint(double(x) * 32768.0), -32768.0, 32767.0));
  }
  const sf_count_t written = sf_writef_short(state_->file.get(), pcm.data(), sf_count_t(pcm.size()));
  if (written != sf_count_t(samples.size())) {
    throw Error("failed writing '" + state_->output.path() + "': " + sf_strerror(state_->file.get()));
  }
  state_->samples += int64_t(samples.size());
}

void WavWriter::commit() {
  if (!state_->file) throw Error("'" + state_->output.path() + "' was already committed");
  // sf_close writes the final header sizes; its status is the last write's.
  if (sf_close(state_->file.release()) != 0) throw Error("failed writing '" + state_->output.path() + "'");
  state_->output.commit();
}

void write_wav(const std::string& path, std::span<const float> samples, int sample_rate) {
  WavWriter writer(path, sample_rate);
  writer.append(samples);
  writer.commit();
}

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  io::OutputFile output(path);
  output.write(bytes);
  output.commit();
}

}  // namespace fastwave
