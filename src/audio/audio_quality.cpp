// Frechet distance between log-mel Gaussians (Eigen for the matrix square roots) and the
// frame statistics that explain it.
#include <Eigen/Dense>
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "fastwave/audio_quality.h"
#include "fastwave/error.h"

namespace fastwave {
namespace {

using Matrix = Eigen::MatrixXd;

// Square root of a symmetric positive semi-definite matrix; eigenvalues that rounding made
// slightly negative count as zero.
Matrix sqrt_psd(const Matrix& m) {
  Eigen::SelfAdjointEigenSolver<Matrix> eig(m);
  const Eigen::VectorXd roots = eig.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return eig.eigenvectors() * roots.asDiagonal() * eig.eigenvectors().transpose();
}

double rms_dbfs(std::span<const float> frame) {
  double energy = 0;
  for (float v : frame) energy += double(v) * v;
  return 10 * std::log10(std::max(energy / double(frame.size()), 1e-30));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, size_t(p * double(values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

}  // namespace

MelGaussian fit_mel_gaussian(std::span<const std::vector<float>> clips, const LogMel& mel) {
  MelGaussian g;
  g.dims = mel.options().mels;
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(g.dims);
  Matrix outer = Matrix::Zero(g.dims, g.dims);
  for (const auto& clip : clips) {
    const std::vector<float> frames = mel.compute(clip);
    const int64_t n = int64_t(frames.size()) / g.dims;
    // Map the frames as a [dims, n] column-major matrix: one frame per column.
    const Eigen::Map<const Eigen::MatrixXf> x(frames.data(), g.dims, n);
    const Matrix xd = x.cast<double>();
    sum += xd.rowwise().sum();
    outer.noalias() += xd * xd.transpose();
    g.frames += n;
  }
  if (g.frames == 0) return g;
  const Eigen::VectorXd mean = sum / double(g.frames);
  // Unbiased covariance; a single frame has none.
  const double denominator = double(std::max<int64_t>(1, g.frames - 1));
  const Matrix cov = (outer - double(g.frames) * mean * mean.transpose()) / denominator;
  g.mean.assign(mean.data(), mean.data() + g.dims);
  g.covariance.assign(cov.data(), cov.data() + size_t(g.dims) * g.dims);
  return g;
}

double frechet_distance(const MelGaussian& a, const MelGaussian& b) {
  if (a.frames < 2 || b.frames < 2) {
    throw Error("the Frechet distance needs at least two frames on each side (clips of at "
                "least one FFT frame plus one hop)");
  }
  if (a.dims != b.dims) throw Error("the two sides have different mel band counts");
  const Eigen::Map<const Eigen::VectorXd> mu_a(a.mean.data(), a.dims), mu_b(b.mean.data(), b.dims);
  const Eigen::Map<const Matrix> s_a(a.covariance.data(), a.dims, a.dims);
  const Eigen::Map<const Matrix> s_b(b.covariance.data(), b.dims, b.dims);
  // tr((S_a S_b)^1/2) = tr((R S_b R)^1/2) with R = S_a^1/2, which is symmetric PSD.
  const Matrix r = sqrt_psd(s_a);
  const Matrix middle = r * s_b * r;
  const Eigen::VectorXd eigenvalues =
      Eigen::SelfAdjointEigenSolver<Matrix>(0.5 * (middle + middle.transpose()), Eigen::EigenvaluesOnly)
          .eigenvalues();
  const double cross = eigenvalues.cwiseMax(0.0).cwiseSqrt().sum();
  const double d = (mu_a - mu_b).squaredNorm() + s_a.trace() + s_b.trace() - 2 * cross;
  return std::max(0.0, d);
}

struct PitchTracker::Fft {
  int size = 0;  // 2 * frame_size: a linear, not circular, autocorrelation
  float* time = nullptr;
  fftwf_complex* spectrum = nullptr;
  fftwf_plan forward = nullptr, backward = nullptr;
};

PitchTracker::PitchTracker(int frame_size, int sample_rate)
    : frame_size_(frame_size), sample_rate_(sample_rate), fft_(new Fft) {
  if (frame_size < 16 || frame_size > 65536) {
    delete fft_;
    throw Error("pitch: frame size must be 16..65536");
  }
  fft_->size = 2 * frame_size;
  fft_->time = static_cast<float*>(fftwf_malloc(sizeof(float) * fft_->size));
  fft_->spectrum = static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * (fft_->size / 2 + 1)));
  fft_->forward = fftwf_plan_dft_r2c_1d(fft_->size, fft_->time, fft_->spectrum, FFTW_ESTIMATE);
  fft_->backward = fftwf_plan_dft_c2r_1d(fft_->size, fft_->spectrum, fft_->time, FFTW_ESTIMATE);
}

PitchTracker::~PitchTracker() {
  if (fft_->forward) fftwf_destroy_plan(fft_->forward);
  if (fft_->backward) fftwf_destroy_plan(fft_->backward);
  fftwf_free(fft_->time);
  fftwf_free(fft_->spectrum);
  delete fft_;
}

double PitchTracker::pitch_hz(std::span<const float> frame) const {
  const int n = frame_size_;
  if (int(frame.size()) != n) throw Error("pitch: frame of the wrong size");
  if (rms_dbfs(frame) < kSilenceDbfs) return 0;
  const int min_lag = std::max(2, int(std::floor(sample_rate_ / kPitchMaxHz)));
  const int max_lag = std::min(n / 2, int(std::ceil(sample_rate_ / kPitchMinHz)));
  if (max_lag <= min_lag + 1) return 0;
  double mean = 0;
  for (float v : frame) mean += v;
  mean /= n;
  std::vector<double> x(n), energy_prefix(n + 1, 0.0);
  for (int i = 0; i < n; ++i) {
    x[i] = frame[i] - mean;
    energy_prefix[i + 1] = energy_prefix[i] + x[i] * x[i];
  }
  // Autocorrelation: inverse FFT of the power spectrum of the zero-padded frame.
  const int bins = fft_->size / 2 + 1;
  std::vector<float> time(fft_->size, 0.0f);
  std::vector<fftwf_complex> spectrum(bins);
  for (int i = 0; i < n; ++i) time[i] = float(x[i]);
  fftwf_execute_dft_r2c(fft_->forward, time.data(), spectrum.data());
  for (auto& bin : spectrum) {
    bin[0] = bin[0] * bin[0] + bin[1] * bin[1];
    bin[1] = 0;
  }
  fftwf_execute_dft_c2r(fft_->backward, spectrum.data(), time.data());  // scaled by fft size
  // Normalised over the overlap: xx = energy of x[0, n-lag), yy = energy of x[lag, n).
  std::vector<double> r(max_lag + 2, 0.0);
  for (int lag = min_lag - 1; lag <= max_lag + 1; ++lag) {
    const double xy = double(time[lag]) / fft_->size;
    const double xx = energy_prefix[n - lag], yy = energy_prefix[n] - energy_prefix[lag];
    r[lag] = xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : 0;
  }
  double best = 0;
  for (int lag = min_lag; lag <= max_lag; ++lag) best = std::max(best, r[lag]);
  if (best < kVoicedCorrelation) return 0;
  // The shortest lag whose peak comes close to the best one: multiples of the period
  // correlate almost as well, and taking them would report sub-octaves.
  for (int lag = min_lag; lag <= max_lag; ++lag) {
    if (r[lag] >= 0.9 * best && r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1]) {
      const double denom = r[lag - 1] - 2 * r[lag] + r[lag + 1];
      const double shift = denom < 0 ? 0.5 * (r[lag - 1] - r[lag + 1]) / denom : 0;
      return sample_rate_ / (lag + std::clamp(shift, -0.5, 0.5));
    }
  }
  return 0;
}

double frame_pitch_hz(std::span<const float> frame, int sample_rate) {
  return PitchTracker(int(frame.size()), sample_rate).pitch_hz(frame);
}

AudioStats audio_stats(std::span<const std::vector<float>> clips, const MelOptions& options) {
  const LogMel mel(options);  // validates the options
  const MelOptions& o = mel.options();
  const PitchTracker pitch(o.fft_size, o.sample_rate);
  AudioStats s;
  int64_t silent = 0, voiced = 0, loud = 0;
  double flatness_sum = 0, level_sum = 0;
  std::vector<double> pitches;
  std::vector<float> power(o.fft_size / 2 + 1);
  for (const auto& clip : clips) {
    s.seconds += double(clip.size()) / o.sample_rate;
    const int64_t n = mel.frames(int64_t(clip.size()));
    for (int64_t f = 0; f < n; ++f) {
      const auto x = std::span<const float>(clip).subspan(size_t(f * o.hop), size_t(o.fft_size));
      ++s.frames;
      const double level = rms_dbfs(x);
      if (level < kSilenceDbfs) {
        ++silent;
        continue;
      }
      ++loud;
      level_sum += level;
      const double hz = pitch.pitch_hz(x);
      if (hz > 0) {
        ++voiced;
        pitches.push_back(hz);
      }
      mel.power_spectrum(x, power);
      double log_sum = 0, power_sum = 0;
      for (size_t b = 1; b < power.size(); ++b) {
        log_sum += std::log(double(power[b]) + 1e-30);
        power_sum += power[b];
      }
      const double bins = double(power.size() - 1);
      flatness_sum += power_sum > 0 ? std::exp(log_sum / bins) / (power_sum / bins) : 0;
    }
  }
  if (s.frames > 0) {
    s.silent_fraction = double(silent) / double(s.frames);
    s.voiced_fraction = double(voiced) / double(s.frames);
  }
  s.spectral_flatness = loud > 0 ? flatness_sum / double(loud) : 0;
  s.rms_dbfs = loud > 0 ? level_sum / double(loud) : -std::numeric_limits<double>::infinity();
  s.pitch_p5_hz = percentile(pitches, 0.05);
  s.pitch_p50_hz = percentile(pitches, 0.50);
  s.pitch_p95_hz = percentile(pitches, 0.95);
  return s;
}

PairedDistances paired_distances(std::span<const float> original, std::span<const float> resynthesis,
                                 const MelOptions& options) {
  MelOptions o = options;
  o.centered = false;  // frames within the signal only: padding would compare zeros
  const LogMel mel(o);
  const size_t n = std::min(original.size(), resynthesis.size());
  const auto a = original.first(n), b = resynthesis.first(n);
  PairedDistances d;
  d.frames = mel.frames(int64_t(n));
  if (d.frames == 0) return d;
  const std::vector<float> mel_a = mel.compute(a), mel_b = mel.compute(b);  // dB, floored
  const int bands = o.mels, cepstra = std::min(kCepstra, bands - 1);
  const int bins = o.fft_size / 2;
  const double floor = std::pow(10.0, o.floor_db / 10);
  constexpr double kDbToNeper = 0.1 * 2.302585092994046;  // ln(10) / 10: dB to natural log
  std::vector<float> power_a(size_t(bins) + 1), power_b(size_t(bins) + 1);
  std::vector<double> difference(static_cast<size_t>(bands));
  double lsd_sum = 0, mcd_sum = 0;
  for (int64_t f = 0; f < d.frames; ++f) {
    mel.power_spectrum(a.subspan(size_t(f * o.hop), size_t(o.fft_size)), power_a);
    mel.power_spectrum(b.subspan(size_t(f * o.hop), size_t(o.fft_size)), power_b);
    double squares = 0;
    for (int k = 1; k <= bins; ++k) {
      const double diff = 10 * std::log10(std::max(double(power_a[k]), floor) / std::max(double(power_b[k]), floor));
      squares += diff * diff;
    }
    lsd_sum += std::sqrt(squares / bins);
    // The cepstra are linear in the log powers: the DCT of their difference.
    for (int m = 0; m < bands; ++m) {
      difference[m] = kDbToNeper * (double(mel_a[size_t(f) * bands + m]) - double(mel_b[size_t(f) * bands + m]));
    }
    double cepstral = 0;
    for (int q = 1; q <= cepstra; ++q) {
      double c = 0;
      for (int m = 0; m < bands; ++m) c += difference[m] * std::cos(M_PI * q * (m + 0.5) / bands);
      c *= std::sqrt(2.0 / bands);  // orthonormal DCT-II
      cepstral += c * c;
    }
    mcd_sum += 10.0 / std::log(10.0) * std::sqrt(2.0 * cepstral);
  }
  d.log_spectral_distance_db = lsd_sum / double(d.frames);
  d.mel_cepstral_distortion_db = mcd_sum / double(d.frames);
  return d;
}

PairedDistances paired_distances(std::span<const std::vector<float>> originals,
                                 std::span<const std::vector<float>> resyntheses, const MelOptions& options) {
  if (originals.size() != resyntheses.size()) {
    throw Error("paired distances need as many resyntheses (" + std::to_string(resyntheses.size()) +
                ") as originals (" + std::to_string(originals.size()) + ")");
  }
  PairedDistances total;
  double lsd = 0, mcd = 0;
  for (size_t i = 0; i < originals.size(); ++i) {
    const PairedDistances d = paired_distances(originals[i], resyntheses[i], options);
    total.frames += d.frames;
    lsd += d.log_spectral_distance_db * double(d.frames);
    mcd += d.mel_cepstral_distortion_db * double(d.frames);
  }
  if (total.frames > 0) {
    total.log_spectral_distance_db = lsd / double(total.frames);
    total.mel_cepstral_distortion_db = mcd / double(total.frames);
  }
  return total;
}

}  // namespace fastwave
