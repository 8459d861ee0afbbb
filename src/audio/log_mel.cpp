// The log-mel front end (FFTW for the transforms).
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "fastwave/audio_quality.h"
#include "fastwave/error.h"

namespace fastwave {
namespace {

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// Slaney's scale (the Auditory Toolbox's, librosa's default): linear at 200/3 Hz per mel
// up to 1 kHz (mel 15), logarithmic above with 27 mels per factor 6.4.
constexpr double kSlaneyHzPerMel = 200.0 / 3, kSlaneyBreakHz = 1000, kSlaneyBreakMel = 15;
double slaney_log_step() { return std::log(6.4) / 27; }
double hz_to_slaney(double hz) {
  if (hz < kSlaneyBreakHz) return hz / kSlaneyHzPerMel;
  return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / slaney_log_step();
}
double slaney_to_hz(double mel) {
  if (mel < kSlaneyBreakMel) return mel * kSlaneyHzPerMel;
  return kSlaneyBreakHz * std::exp(slaney_log_step() * (mel - kSlaneyBreakMel));
}

// Index into a signal of n samples extended by mirroring at both ends without repeating
// the edge samples (numpy's "reflect"): period 2 (n - 1).
int64_t reflect_index(int64_t t, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  t %= period;
  if (t < 0) t += period;
  return t < n ? t : period - t;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};

}  // namespace

// One plan made at construction; compute() runs it on its own buffers with FFTW's
// new-array interface, which is thread-safe (planning is not).
struct LogMel::Fft {
  std::unique_ptr<float, FftwFree> in;
  std::unique_ptr<fftwf_complex, FftwFree> out;
  fftwf_plan plan = nullptr;
};

LogMel::LogMel(const MelOptions& options) : options_(options) {
  MelOptions& o = options_;
  if (o.sample_rate < 1000 || o.sample_rate > 384000) throw Error("mel: sample rate out of range");
  if (o.fft_size < 16 || o.fft_size > 65536) throw Error("mel: FFT size must be 16..65536");
  if (o.hop < 1 || o.hop > o.fft_size) throw Error("mel: hop must be 1..FFT size");
  if (o.max_hz <= 0) o.max_hz = o.sample_rate / 2.0;
  if (o.mels < 1 || o.mels > o.fft_size / 2 || !(o.min_hz >= 0) || !(o.max_hz > o.min_hz) ||
      o.max_hz > o.sample_rate / 2.0) {
    throw Error("mel: bands or frequency range out of range");
  }
  window_.resize(o.fft_size);
  for (int i = 0; i < o.fft_size; ++i) {  // periodic Hann
    window_[i] = float(0.5 - 0.5 * std::cos(2 * M_PI * i / o.fft_size));
  }
  const int bins = o.fft_size / 2 + 1;
  auto to_mel = o.slaney_scale ? hz_to_slaney : hz_to_mel;
  auto to_hz = o.slaney_scale ? slaney_to_hz : mel_to_hz;
  const double lo = to_mel(o.min_hz), hi = to_mel(o.max_hz);
  filters_.resize(o.mels);
  for (int m = 0; m < o.mels; ++m) {
    const double left = to_hz(lo + (hi - lo) * m / (o.mels + 1));
    const double centre = to_hz(lo + (hi - lo) * (m + 1) / (o.mels + 1));
    const double right = to_hz(lo + (hi - lo) * (m + 2) / (o.mels + 1));
    const double norm = o.slaney_norm ? 2 / (right - left) : 1;
    for (int b = 0; b < bins; ++b) {
      const double hz = double(b) * o.sample_rate / o.fft_size;
      const double w = hz <= centre ? (hz - left) / (centre - left) : (right - hz) / (right - centre);
      if (w > 0) filters_[m].push_back({b, float(w * norm)});
    }
    // Low bands narrower than a bin would be empty: give them their nearest bin (not on
    // Slaney's scale, where librosa leaves them empty and we match it).
    if (filters_[m].empty() && !o.slaney_scale) {
      filters_[m].push_back({int(std::lround(centre * o.fft_size / o.sample_rate)), 1.0f});
    }
  }
  fft_ = new Fft;
  fft_->in.reset(static_cast<float*>(fftwf_malloc(sizeof(float) * o.fft_size)));
  fft_->out.reset(static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * bins)));
  fft_->plan = fftwf_plan_dft_r2c_1d(o.fft_size, fft_->in.get(), fft_->out.get(), FFTW_ESTIMATE);
  if (!fft_->plan) {
    delete fft_;
    throw Error("mel: cannot plan the FFT");
  }
}

LogMel::~LogMel() {
  fftwf_destroy_plan(fft_->plan);
  delete fft_;
}

int64_t LogMel::frames(int64_t samples) const {
  if (options_.centered && options_.librosa_frames) return samples < 1 ? 0 : 1 + samples / options_.hop;
  if (options_.centered) return samples / options_.hop;
  return samples < options_.fft_size ? 0 : 1 + (samples - options_.fft_size) / options_.hop;
}

void LogMel::power_spectrum(std::span<const float> frame, std::span<float> power) const {
  const int bins = options_.fft_size / 2 + 1;
  if (int(frame.size()) != options_.fft_size || int(power.size()) != bins) {
    throw Error("mel: frame or spectrum of the wrong size");
  }
  std::unique_ptr<float, FftwFree> in(static_cast<float*>(fftwf_malloc(sizeof(float) * frame.size())));
  std::unique_ptr<fftwf_complex, FftwFree> out(
      static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * bins)));
  for (size_t i = 0; i < frame.size(); ++i) in.get()[i] = frame[i] * window_[i];
  fftwf_execute_dft_r2c(fft_->plan, in.get(), out.get());
  for (int b = 0; b < bins; ++b) {
    power[b] = out.get()[b][0] * out.get()[b][0] + out.get()[b][1] * out.get()[b][1];
  }
}

std::vector<float> LogMel::compute(std::span<const float> samples) const {
  const MelOptions& o = options_;
  const int64_t n = frames(int64_t(samples.size()));
  std::vector<float> power(o.fft_size / 2 + 1), result(size_t(n) * o.mels);
  const double floor_power = std::pow(10.0, o.floor_db / 10);
  std::vector<float> padded(o.centered ? o.fft_size : 0);
  const int64_t size = int64_t(samples.size());
  for (int64_t f = 0; f < n; ++f) {
    if (o.centered) {
      const int64_t first = f * o.hop + (o.librosa_frames ? 0 : o.hop / 2) - o.fft_size / 2;
      for (int i = 0; i < o.fft_size; ++i) {
        const int64_t t = first + i;
        if (t >= 0 && t < size) padded[i] = samples[t];
        else padded[i] = o.reflect ? samples[reflect_index(t, size)] : 0.0f;
      }
      power_spectrum(padded, power);
    } else {
      power_spectrum(samples.subspan(size_t(f * o.hop), size_t(o.fft_size)), power);
    }
    if (o.magnitude) {
      for (float& p : power) p = std::sqrt(p);
    }
    for (int m = 0; m < o.mels; ++m) {
      double sum = 0;
      for (const auto& [b, w] : filters_[m]) sum += double(w) * power[b];
      result[size_t(f) * o.mels + m] =
          o.log10 ? float(std::log10(std::max(sum, 1e-10))) : float(10 * std::log10(std::max(sum, floor_power)));
    }
  }
  return result;
}

}  // namespace fastwave
