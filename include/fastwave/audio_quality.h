// How generated audio compares with real audio: a log-mel Frechet distance (FAD-style, on
// log-mel frames instead of a learned embedding) and the signal statistics that explain
// it. The method and its calibration are in docs/audio-quality.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fastwave {

// Log-mel front end: Hann-windowed frames of `fft_size` every `hop` samples (no padding:
// a clip shorter than one frame has none), power spectrum, triangular HTK-mel filters
// from `min_hz` to `max_hz` (0: Nyquist), then 10 log10 with a floor of `floor_db`.
// `centered` frames (the vocoder's) are instead samples / hop frames, frame f centred on
// samples [f*hop, (f+1)*hop) with zeros beyond the signal. The variants below reproduce
// librosa's (r9y9/wavenet_vocoder's) front end.
struct MelOptions {
  int sample_rate = 16000;
  int fft_size = 1024;
  int hop = 256;
  int mels = 64;
  double min_hz = 0;
  double max_hz = 0;
  double floor_db = -100;
  bool centered = false;
  // Variants (r9y9/wavenet_vocoder's librosa front end), all off by default:
  bool magnitude = false;       // filters weigh |X| instead of |X|^2
  bool slaney_scale = false;    // Slaney's mel scale (librosa's default) instead of HTK's
  bool slaney_norm = false;     // each triangle scaled by 2 / (right - left) in Hz
  bool reflect = false;         // centered frames: mirror the signal (no edge repeat), not zeros
  bool librosa_frames = false;  // centered frames: 1 + samples / hop, frame f centred on f*hop
  bool log10 = false;           // log10(max(mel, 1e-10)) instead of 10 log10 floored at floor_db
};

class LogMel {
 public:
  explicit LogMel(const MelOptions& options);  // throws fastwave::Error for bad options
  ~LogMel();
  LogMel(const LogMel&) = delete;
  LogMel& operator=(const LogMel&) = delete;

  const MelOptions& options() const { return options_; }
  int64_t frames(int64_t samples) const;
  // Row-major [frames(samples.size())][mels], in dB (or log10 units with `log10`).
  std::vector<float> compute(std::span<const float> samples) const;
  // The windowed power spectrum of one frame of fft_size samples: fft_size / 2 + 1 bins.
  void power_spectrum(std::span<const float> frame, std::span<float> power) const;

 private:
  MelOptions options_;
  std::vector<float> window_;
  std::vector<std::vector<std::pair<int, float>>> filters_;  // per mel: (bin, weight)
  struct Fft;
  Fft* fft_;
};

// Mean and covariance of log-mel frames over a set of clips.
struct MelGaussian {
  int dims = 0;
  int64_t frames = 0;
  std::vector<double> mean;        // [dims]
  std::vector<double> covariance;  // [dims][dims]
};
MelGaussian fit_mel_gaussian(std::span<const std::vector<float>> clips, const LogMel& mel);

// ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), in dB^2; 0 for equal
// Gaussians. Throws fastwave::Error when either side has fewer than two frames.
double frechet_distance(const MelGaussian& a, const MelGaussian& b);

// Frame statistics over a set of clips, on the front end's frames (fft_size, hop).
struct AudioStats {
  int64_t frames = 0;
  double seconds = 0;
  double silent_fraction = 0;    // frames whose RMS is below kSilenceDbfs
  double spectral_flatness = 0;  // mean over non-silent frames: geometric / arithmetic mean
                                 // of the power spectrum (bins 1..fft_size/2)
  double voiced_fraction = 0;    // of all frames: autocorrelation peak >= kVoicedCorrelation
  double pitch_p5_hz = 0, pitch_p50_hz = 0, pitch_p95_hz = 0;  // over voiced frames (0: none)
  double rms_dbfs = 0;           // mean RMS of the non-silent frames (-inf: none)
};
inline constexpr double kSilenceDbfs = -60;
inline constexpr double kVoicedCorrelation = 0.6;
inline constexpr double kPitchMinHz = 50, kPitchMaxHz = 2000;
AudioStats audio_stats(std::span<const std::vector<float>> clips, const MelOptions& options);

// Copy-synthesis distances between an original and its resynthesis, aligned sample for
// sample (the shorter length counts), frame by frame on `options`' frames, averaged over
// frames. Powers are floored at `floor_db` (relative to full scale) before the logs.
struct PairedDistances {
  int64_t frames = 0;
  // sqrt(mean over bins 1..fft_size/2 of (10 log10 P_a - 10 log10 P_b)^2), in dB.
  double log_spectral_distance_db = 0;
  // (10 / ln 10) sqrt(2 sum_{d=1..kCepstra} (c_a[d] - c_b[d])^2), in dB, with c the DCT-II of
  // the natural log of the `mels` band powers: an MFCC-based mel-cepstral distortion, not
  // SPTK's mel-generalised cepstrum, so compare it with itself rather than with papers.
  double mel_cepstral_distortion_db = 0;
};
inline constexpr int kCepstra = 24;
PairedDistances paired_distances(std::span<const float> original, std::span<const float> resynthesis,
                                 const MelOptions& options);
// Frame-weighted mean over pairs of clips.
PairedDistances paired_distances(std::span<const std::vector<float>> originals,
                                 std::span<const std::vector<float>> resyntheses, const MelOptions& options);

// The autocorrelation pitch tracker behind voiced_fraction (docs/audio-quality.md): the
// frequency of one frame in Hz, or 0 when it is unvoiced or silent. The autocorrelation
// comes from one FFT of the zero-padded frame, the energies of the overlaps from running
// sums, so a frame costs O(n log n), not O(n * lags).
class PitchTracker {
 public:
  PitchTracker(int frame_size, int sample_rate);
  ~PitchTracker();
  PitchTracker(const PitchTracker&) = delete;
  PitchTracker& operator=(const PitchTracker&) = delete;
  double pitch_hz(std::span<const float> frame) const;

 private:
  int frame_size_, sample_rate_;
  struct Fft;
  Fft* fft_;
};
// One frame, with a tracker made for it.
double frame_pitch_hz(std::span<const float> frame, int sample_rate);

}  // namespace fastwave
