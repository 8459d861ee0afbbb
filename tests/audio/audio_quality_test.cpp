#include "fastwave/audio_quality.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fastwave/error.h"

namespace fastwave {
namespace {

constexpr int kRate = 16000;

std::vector<float> sine(double hz, double seconds, float amplitude = 0.5f) {
  std::vector<float> x(size_t(seconds * kRate));
  for (size_t i = 0; i < x.size(); ++i) x[i] = amplitude * float(std::sin(2 * M_PI * hz * i / kRate));
  return x;
}

std::vector<float> noise(double seconds, uint64_t seed, float amplitude = 0.3f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, amplitude);
  std::vector<float> x(size_t(seconds * kRate));
  for (float& v : x) v = normal(rng);
  return x;
}

TEST(LogMel, FrameCountAndSinePeakBand) {
  const LogMel mel({});
  EXPECT_EQ(mel.frames(1023), 0);
  EXPECT_EQ(mel.frames(1024), 1);
  EXPECT_EQ(mel.frames(1024 + 255), 1);
  EXPECT_EQ(mel.frames(1024 + 256), 2);
  // A 1 kHz tone puts its energy in the band whose centre is nearest 1 kHz.
  const auto frames = mel.compute(sine(1000, 0.2));
  const int mels = mel.options().mels;
  int loudest = 0;
  for (int m = 1; m < mels; ++m) loudest = frames[m] > frames[loudest] ? m : loudest;
  const double top = 2595 * std::log10(1 + 8000 / 700.0);
  const double centre = 700 * (std::pow(10, top * (loudest + 1) / (mels + 1) / 2595) - 1);
  EXPECT_NEAR(centre, 1000, 100);
  // Digital silence sits on the floor.
  for (float v : mel.compute(std::vector<float>(4096, 0.0f))) EXPECT_FLOAT_EQ(v, -100.0f);
}

TEST(LogMel, RejectsBadOptions) {
  EXPECT_THROW(LogMel({.fft_size = 8}), Error);
  EXPECT_THROW(LogMel({.hop = 0}), Error);
  EXPECT_THROW(LogMel({.mels = 0}), Error);
  EXPECT_THROW(LogMel({.max_hz = 9000}), Error);  // above Nyquist at 16 kHz
}

TEST(Frechet, ZeroForTheSameSetAndOrdersObviousCases) {
  const LogMel mel({});
  const std::vector<std::vector<float>> tones = {sine(220, 1), sine(330, 1), sine(440, 1)};
  const std::vector<std::vector<float>> tones2 = {sine(225, 1), sine(335, 1), sine(445, 1)};
  const std::vector<std::vector<float>> white = {noise(3, 1)};
  const std::vector<std::vector<float>> white2 = {noise(3, 2)};
  const auto g_tones = fit_mel_gaussian(tones, mel);
  EXPECT_EQ(g_tones.frames, 3 * mel.frames(kRate));
  EXPECT_NEAR(frechet_distance(g_tones, g_tones), 0, 1e-6 * g_tones.dims * 1e4);
  const double near_tones = frechet_distance(g_tones, fit_mel_gaussian(tones2, mel));
  const double noise_noise = frechet_distance(fit_mel_gaussian(white, mel), fit_mel_gaussian(white2, mel));
  const double tones_noise = frechet_distance(g_tones, fit_mel_gaussian(white, mel));
  // Two draws of the same noise differ only by the sampling error of 185 frames.
  EXPECT_LT(noise_noise, tones_noise / 100);
  EXPECT_LT(near_tones, tones_noise / 10);
  // Symmetric.
  EXPECT_NEAR(tones_noise, frechet_distance(fit_mel_gaussian(white, mel), g_tones), 1e-6 * tones_noise);
}

TEST(Frechet, NeedsFramesOnBothSides) {
  const LogMel mel({});
  const std::vector<std::vector<float>> none = {std::vector<float>(100, 0.1f)};
  const std::vector<std::vector<float>> some = {sine(440, 1)};
  EXPECT_THROW(frechet_distance(fit_mel_gaussian(none, mel), fit_mel_gaussian(some, mel)), Error);
}

TEST(Pitch, TracksSinesAndHarmonicTonesWithoutOctaveErrors) {
  for (double hz : {60.0, 110.0, 196.0, 440.0, 880.0, 1500.0}) {
    const auto x = sine(hz, 0.064);
    EXPECT_NEAR(frame_pitch_hz({x.data(), 1024}, kRate), hz, hz * 0.01) << hz;
  }
  // A violin-like tone: strong second harmonic, weaker fundamental.
  std::vector<float> rich(1024);
  for (size_t i = 0; i < rich.size(); ++i) {
    const double t = double(i) / kRate;
    rich[i] = float(0.2 * std::sin(2 * M_PI * 196 * t) + 0.5 * std::sin(2 * M_PI * 392 * t) +
                    0.2 * std::sin(2 * M_PI * 588 * t));
  }
  EXPECT_NEAR(frame_pitch_hz(rich, kRate), 196, 2);
  const auto white = noise(0.064, 3);
  EXPECT_EQ(frame_pitch_hz({white.data(), 1024}, kRate), 0);
  EXPECT_EQ(frame_pitch_hz(std::vector<float>(1024, 0.0f), kRate), 0);
}

TEST(AudioStats, SilenceNoiseAndTones) {
  const std::vector<std::vector<float>> silence = {std::vector<float>(kRate, 0.0f)};
  const AudioStats s = audio_stats(silence, {});
  EXPECT_DOUBLE_EQ(s.silent_fraction, 1.0);
  EXPECT_DOUBLE_EQ(s.voiced_fraction, 0.0);
  EXPECT_TRUE(std::isinf(s.rms_dbfs));

  const std::vector<std::vector<float>> white = {noise(1, 4)};
  const AudioStats n = audio_stats(white, {});
  EXPECT_DOUBLE_EQ(n.silent_fraction, 0.0);
  EXPECT_LT(n.voiced_fraction, 0.05);
  // Exponentially distributed bin powers: geometric / arithmetic mean = exp(-gamma) = 0.56.
  EXPECT_NEAR(n.spectral_flatness, 0.56, 0.05);

  // Half a second of tone, half of silence: half the frames each, pitch from the tone.
  std::vector<float> half = sine(300, 0.5);
  half.resize(kRate, 0.0f);
  const AudioStats h = audio_stats(std::vector<std::vector<float>>{half}, {});
  EXPECT_NEAR(h.silent_fraction, 0.5, 0.05);
  EXPECT_NEAR(h.voiced_fraction, 0.5, 0.05);
  EXPECT_NEAR(h.pitch_p50_hz, 300, 3);
  EXPECT_LT(h.spectral_flatness, 0.01);
  EXPECT_NEAR(h.rms_dbfs, 20 * std::log10(0.5 / std::sqrt(2.0)), 1.0);
}

TEST(PairedDistances, ZeroForACopyAndGainIsNotTimbre) {
  const MelOptions options;
  const auto x = noise(1.0, 3);
  const PairedDistances same = paired_distances(x, x, options);
  EXPECT_GT(same.frames, 50);
  EXPECT_DOUBLE_EQ(same.log_spectral_distance_db, 0.0);
  EXPECT_DOUBLE_EQ(same.mel_cepstral_distortion_db, 0.0);
  // Half the amplitude is 6.02 dB in every bin, and only the energy term c0 of the cepstra,
  // which the distortion leaves out.
  std::vector<float> quieter = x;
  for (float& v : quieter) v *= 0.5f;
  const PairedDistances gain = paired_distances(x, quieter, options);
  EXPECT_NEAR(gain.log_spectral_distance_db, 20 * std::log10(2.0), 1e-3);
  EXPECT_NEAR(gain.mel_cepstral_distortion_db, 0.0, 1e-3);
  // A different sound is far on both; a different noise less far than a tone.
  const PairedDistances other = paired_distances(x, noise(1.0, 4), options);
  const PairedDistances tone = paired_distances(x, sine(440, 1.0), options);
  EXPECT_GT(other.log_spectral_distance_db, 1.0);
  EXPECT_GT(tone.mel_cepstral_distortion_db, other.mel_cepstral_distortion_db);
  // Pairs are weighted by frames; unequal lists are an error.
  const std::vector<std::vector<float>> a = {x, x}, b = {x, quieter};
  EXPECT_NEAR(paired_distances(a, b, options).log_spectral_distance_db, 0.5 * gain.log_spectral_distance_db, 1e-3);
  EXPECT_THROW(paired_distances(a, std::vector<std::vector<float>>{x}, options), Error);
}

}  // namespace
}  // namespace fastwave
