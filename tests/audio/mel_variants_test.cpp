// The local_mel variants behind r9y9/wavenet_vocoder's librosa front end: parsing,
// validation, old configs unchanged, and what each variant does to the features. The
// comparison with an independent transcription of librosa is tests/python/test_librosa_mel.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "../test_util.h"

namespace fastwave {
namespace {

// r9y9's front end on the default vocoder's shape (16 kHz, FFT 1024, hop 256, 80 bands).
ModelConfig librosa_vocoder() {
  ModelConfig c = default_vocoder_config();
  ModelConfig::LocalMel& m = *c.local_mel;
  m.spectrum = "magnitude";
  m.mel_scale = "slaney";
  m.filter_norm = "slaney";
  m.pad = "reflect";
  m.framing = "librosa";
  m.log = "log10";
  return c;
}

std::vector<float> chirp(int n, int rate) {
  std::vector<float> x(n);
  for (int t = 0; t < n; ++t) {
    const double s = double(t) / rate;
    const double noise = double((int64_t(t) * t * 7 + 3 * t) % 1013) / 1013 - 0.5;  // a fixed jumble
    x[t] = float(0.4 * std::sin(2 * M_PI * (100 * s + 1500 * s * s)) + 0.05 * noise);
  }
  return x;
}

std::string error_of(const std::string& json) {
  try {
    ModelConfig::from_json(json).validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MelVariants, DefaultsAreNotWrittenSoOldConfigsKeepTheirJson) {
  const ModelConfig c = default_vocoder_config();
  const std::string json = c.to_json();
  for (const char* key : {"spectrum", "mel_scale", "filter_norm", "\"pad\"", "framing", "\"log\"", "mean", "\"std\""}) {
    EXPECT_EQ(json.find(key), std::string::npos) << key;
  }
  // Explicit defaults parse to the same config, and are dropped when written again.
  std::string explicit_defaults = json;
  explicit_defaults.insert(explicit_defaults.find("\"max_db\""),
                           R"("spectrum":"power","mel_scale":"htk","filter_norm":"none","pad":"zeros",)"
                           R"("framing":"hop","log":"db",)");
  const ModelConfig back = ModelConfig::from_json(explicit_defaults);
  EXPECT_EQ(*back.local_mel, *c.local_mel);
  EXPECT_EQ(back.to_json(), json);
  // And compute the same features, bit for bit.
  const std::vector<float> x = chirp(5000, c.sample_rate);
  EXPECT_EQ(MelFrontEnd(back).compute(x), MelFrontEnd(c).compute(x));
}

TEST(MelVariants, RoundTripThroughJsonAndModelFiles) {
  ModelConfig c = librosa_vocoder();
  c.local_mel->mean.assign(80, -2.5);
  c.local_mel->std.assign(80, 0.75);
  c.local_mel->mean[3] = 1.0 / 3;
  const std::string json = c.to_json();
  for (const char* key : {R"("spectrum":"magnitude")", R"("mel_scale":"slaney")", R"("filter_norm":"slaney")",
                          R"("pad":"reflect")", R"("framing":"librosa")", R"("log":"log10")", R"("mean":[)",
                          R"("std":[)"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
  const ModelConfig back = ModelConfig::from_json(json);
  EXPECT_EQ(*back.local_mel, *c.local_mel);
  EXPECT_EQ(back.to_json(), json);
  testing::TempDir dir;
  Model::random(c, 3).save(dir.file("v.fwm"));
  EXPECT_EQ(Model::load(dir.file("v.fwm")).config().to_json(), json);
}

TEST(MelVariants, BadValuesAreOneLineErrors) {
  const std::string head = R"({"local_channels":3,"local_hop":4,"local_mel":{)";
  struct Case {
    std::string mel, expect;
  };
  for (const Case& k : std::vector<Case>{
           {R"("spectrum":"complex")", "local_mel.spectrum 'complex' is not power or magnitude"},
           {R"("mel_scale":"bark")", "local_mel.mel_scale 'bark' is not htk or slaney"},
           {R"("filter_norm":"peak")", "local_mel.filter_norm 'peak' is not none or slaney"},
           {R"("pad":"edge")", "local_mel.pad 'edge' is not zeros or reflect"},
           {R"("framing":"start")", "local_mel.framing 'start' is not hop or librosa"},
           {R"("log":"ln")", "local_mel.log 'ln' is not db or log10"},
           {R"("spectrum":1)", "local_mel.spectrum must be a string"},
           {R"("mean":1,"std":[1,1,1])", "local_mel.mean must be an array of numbers"},
           {R"("mean":[0,"a",0],"std":[1,1,1])", "local_mel.mean entry must be a number"},
           {R"("mean":[0,0],"std":[1,1])", "local_mel.mean has 2 entries, not local_channels = 3"},
           {R"("mean":[0,0,0])", "local_mel.mean and local_mel.std go together"},
           {R"("mean":[0,0,0],"std":[1,0,1])", "local_mel.std entries must be finite and > 0"},
           {R"("mean":[0,0,0],"std":[1,-2,1])", "local_mel.std entries must be finite and > 0"},
       }) {
    const std::string error = error_of(head + k.mel + "}}");
    EXPECT_NE(error.find(k.expect), std::string::npos) << k.mel << " -> " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  EXPECT_EQ(error_of(head + R"("mean":[0,1,2],"std":[1,2,3],"log":"log10"}})"), "");
}

TEST(MelVariants, LibrosaFramingHasAFrameMoreThanWholeHops) {
  const ModelConfig c = librosa_vocoder();
  const MelFrontEnd front_end(c);
  EXPECT_EQ(front_end.frames(0), 0);
  EXPECT_EQ(front_end.frames(1), 1);
  EXPECT_EQ(front_end.frames(255), 1);
  EXPECT_EQ(front_end.frames(256), 2);
  EXPECT_EQ(front_end.frames(1000), 4);
  std::vector<float> x = chirp(1000, c.sample_rate);
  const std::vector<float> direct = front_end.compute(x);
  // features_of: the features of the clip as it is, then the clip zero-padded to frames * hop.
  const std::vector<float> features = front_end.features_of(x);
  EXPECT_EQ(features, direct);
  ASSERT_EQ(x.size(), 4u * 256);
  EXPECT_EQ(x[999], chirp(1000, c.sample_rate)[999]);
  EXPECT_EQ(x[1000], 0.0f);
  // The default framing drops the remainder before computing, as before.
  const MelFrontEnd plain(default_vocoder_config());
  std::vector<float> y = chirp(1000, c.sample_rate);
  const std::vector<float> expected = plain.compute(std::span<const float>(y).first(768));
  EXPECT_EQ(plain.features_of(y), expected);
  EXPECT_EQ(y.size(), 768u);
}

TEST(MelVariants, ReflectPaddingEqualsMirroringTheSignalByHand) {
  // librosa framing with zeros on a signal mirrored by hand (fft_size / 2 = 2 hops each
  // side, no edge repeat) gives the reflect-padded frames, shifted by two.
  ModelConfig zeros = librosa_vocoder();
  zeros.local_mel->pad = "zeros";
  const ModelConfig reflect = librosa_vocoder();
  const int n = 3000, half = 512;
  const std::vector<float> x = chirp(n, reflect.sample_rate);
  std::vector<float> mirrored;
  for (int i = half; i >= 1; --i) mirrored.push_back(x[i]);
  mirrored.insert(mirrored.end(), x.begin(), x.end());
  for (int i = n - 2; i >= n - 1 - half; --i) mirrored.push_back(x[i]);
  const std::vector<float> a = MelFrontEnd(reflect).compute(x);
  const std::vector<float> b = MelFrontEnd(zeros).compute(mirrored);
  const int bands = reflect.local_channels, frames = 1 + n / 256;
  ASSERT_EQ(a.size(), size_t(frames * bands));
  for (int f = 0; f < frames; ++f) {
    for (int m = 0; m < bands; ++m) {
      ASSERT_EQ(a[size_t(f) * bands + m], b[size_t(f + 2) * bands + m]) << f << " " << m;
    }
  }
}

TEST(MelVariants, MeanAndStdStandardiseEachBand) {
  ModelConfig c = librosa_vocoder();
  const std::vector<float> x = chirp(4000, c.sample_rate);
  const std::vector<float> raw = MelFrontEnd(c).compute(x);
  for (int b = 0; b < c.local_channels; ++b) {
    c.local_mel->mean.push_back(-3 + 0.05 * b);
    c.local_mel->std.push_back(0.5 + 0.01 * b);
  }
  const std::vector<float> standardised = MelFrontEnd(c).compute(x);
  ASSERT_EQ(standardised.size(), raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const size_t b = i % size_t(c.local_channels);
    EXPECT_NEAR(standardised[i], (raw[i] - c.local_mel->mean[b]) / c.local_mel->std[b], 1e-5);
  }
}

TEST(MelVariants, Log10IsNotMappedAndFloorsAtMinusTen) {
  const ModelConfig c = librosa_vocoder();
  const std::vector<float> silence(2000, 0.0f);
  for (float v : MelFrontEnd(c).compute(silence)) ASSERT_EQ(v, -10.0f);
  // Magnitude rather than power: a sine's band level is log10 of amplitude-like values
  // (about half the power's log10 + a constant); scaling the input by 10 adds 1.
  std::vector<float> x = chirp(4000, c.sample_rate), louder = x;
  for (float& v : x) v *= 0.05f;
  for (float& v : louder) v *= 0.5f;
  const auto a = MelFrontEnd(c).compute(x), b = MelFrontEnd(c).compute(louder);
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] > -8) {
      EXPECT_NEAR(b[i] - a[i], 1.0, 1e-4) << i;
    }
  }
}

TEST(MelVariants, SlaneyBandsPeakWhereSlaneysScalePutsThem) {
  ModelConfig c = librosa_vocoder();
  c.local_mel->min_hz = 0;
  c.local_mel->max_hz = 8000;
  // Slaney's scale is linear below 1 kHz: band centres every (8000 Hz in mels / 81)...
  auto to_mel = [](double hz) { return hz < 1000 ? hz / (200.0 / 3) : 15 + std::log(hz / 1000) / (std::log(6.4) / 27); };
  auto to_hz = [](double mel) { return mel < 15 ? mel * 200.0 / 3 : 1000 * std::exp(std::log(6.4) / 27 * (mel - 15)); };
  for (int band : {10, 40, 70}) {
    const double hz = to_hz(to_mel(8000) * (band + 1) / 81);
    std::vector<float> x(8000);
    for (size_t t = 0; t < x.size(); ++t) x[t] = 0.5f * float(std::sin(2 * M_PI * hz * double(t) / c.sample_rate));
    const auto mel = MelFrontEnd(c).compute(x);
    for (int f = 5; f < 25; ++f) {
      const float* row = &mel[size_t(f) * c.local_channels];
      EXPECT_EQ(std::max_element(row, row + c.local_channels) - row, band) << hz << " Hz, frame " << f;
    }
  }
}

}  // namespace
}  // namespace fastwave
