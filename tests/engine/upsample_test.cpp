// The upsampling network of local features against hand-computed cases, and the config
// and file rules around it.
#include <gtest/gtest.h>

#include <algorithm>

#include "../test_util.h"
#include "engine/upsample.h"

namespace fastwave {
namespace {

ModelConfig two_channels(std::vector<int> scales, int freq_kernel, int cin_pad) {
  ModelConfig c = testing::small_config();
  c.local_channels = 2;
  c.local_hop = 1;
  for (int s : scales) c.local_hop *= s;
  c.upsample_scales = std::move(scales);
  c.upsample_freq_kernel = freq_kernel;
  c.upsample_conv_in = cin_pad > 0;
  c.cin_pad = cin_pad;
  return c;
}

// A random model of `config` with some tensors replaced.
Model with_tensors(const ModelConfig& config, const std::map<std::string, Tensor>& replaced) {
  auto tensors = Model::random(config, 3).tensors();
  for (const auto& [name, t] : replaced) tensors.at(name) = t;
  return Model(config, std::move(tensors));
}

TEST(Upsample, StretchThenConvByHand) {
  const ModelConfig c = two_channels({2}, 1, 0);
  const std::vector<float> w = {1, 2, 3, 4, 5};  // kernel (1, 2*2+1)
  const Model model = with_tensors(c, {{"upsample.convs.0.weight", Tensor::from_floats({1, 1, 1, 5}, w)}});
  // Frames [1, 10] and [2, 20]; channel 0 stretched is 1 1 2 2, zero-padded by 2 either side.
  const std::vector<float> frames = {1, 10, 2, 20};
  const auto out = upsample_features(c, UpsampleWeights(model), frames, 2);
  const std::vector<float> expected = {17, 170, 23, 230, 17, 170, 11, 110};  // [sample][channel]
  EXPECT_EQ(out, expected);
}

TEST(Upsample, ConvInWithEdgeFramesThenFrequencyKernelByHand) {
  const ModelConfig c = two_channels({1}, 3, 1);
  // conv_in: out 0 = in 0 at the current frame + in 1 at the previous one; out 1 = 2 x in 1
  // at the next frame. Edge frames repeat, so frame -1 is frame 0 and frame 2 is frame 1.
  const std::vector<float> conv_in = {0, 1, 0, /**/ 1, 0, 0, /**/ 0, 0, 0, /**/ 0, 0, 2};
  // Stage: centre tap of this channel plus the next channel one step ahead.
  const std::vector<float> stage = {0, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 1};
  const Model model = with_tensors(c, {{"upsample.conv_in.weight", Tensor::from_floats({2, 2, 3}, conv_in)},
                                       {"upsample.convs.0.weight", Tensor::from_floats({1, 1, 3, 3}, stage)}});
  const std::vector<float> frames = {1, 10, 2, 20};
  // conv_in: channel 0 = [1 + 10, 2 + 10], channel 1 = [40, 40]. Stage: channel 0 =
  // [11 + 40, 12 + 0 (past the end)], channel 1 = [40, 40] (channel 2 is zero padding).
  const std::vector<float> expected = {51, 40, 12, 40};  // [sample][channel]
  EXPECT_EQ(upsample_features(c, UpsampleWeights(model), frames, 2), expected);
}

// r9y9's older stages: ConvTranspose2d(1, 1, (3, 2), stride (1, 2), padding (1, 0)) with a
// bias, then ReLU, computed here in the transposed conv's own (scatter) form.
TEST(Upsample, TransposedStagesScatterAddBiasAndRectify) {
  ModelConfig c = two_channels({2, 3}, 3, 0);
  c.local_channels = 3;
  c.upsample_transposed = true;
  const std::vector<float> w0 = {1, -2, 0.5f, 3, -1, 1}, w1 = {0.5f, 1, -1, 2, 0, 1, -0.5f, 1, 2};  // [3][2], [3][3]
  const std::vector<float> b0 = {0.25f}, b1 = {-0.5f};
  const Model model = with_tensors(c, {{"upsample.convs.0.weight", Tensor::from_floats({1, 1, 3, 2}, w0)},
                                       {"upsample.convs.0.bias", Tensor::from_floats({1}, b0)},
                                       {"upsample.convs.1.weight", Tensor::from_floats({1, 1, 3, 3}, w1)},
                                       {"upsample.convs.1.bias", Tensor::from_floats({1}, b1)}});
  const int frames = 2, channels = 3;
  const std::vector<float> features = {1, -2, 3, 0.5f, 4, -1};  // [frame][channel]
  // plane[ch][t]: each input (ci, ti) adds in * w[a][r] to output (ci - 1 + a, ti*s + r).
  auto transposed = [&](const std::vector<float>& in, int length, const std::vector<float>& w, int s, float b) {
    std::vector<float> out(size_t(channels) * length * s, b);
    for (int ci = 0; ci < channels; ++ci) {
      for (int ti = 0; ti < length; ++ti) {
        for (int a = 0; a < 3; ++a) {
          const int co = ci - 1 + a;
          if (co < 0 || co >= channels) continue;
          for (int r = 0; r < s; ++r) out[size_t(co) * length * s + ti * s + r] += in[size_t(ci) * length + ti] * w[a * s + r];
        }
      }
    }
    for (float& v : out) v = std::max(v, 0.0f);
    return out;
  };
  std::vector<float> plane(size_t(channels) * frames);
  for (int f = 0; f < frames; ++f) {
    for (int ch = 0; ch < channels; ++ch) plane[size_t(ch) * frames + f] = features[size_t(f) * channels + ch];
  }
  const auto stage0 = transposed(plane, frames, w0, 2, b0[0]);
  const auto stage1 = transposed(stage0, frames * 2, w1, 3, b1[0]);
  const auto out = upsample_features(c, UpsampleWeights(model), features, frames);
  ASSERT_EQ(out.size(), size_t(frames * 6 * channels));
  for (int t = 0; t < frames * 6; ++t) {
    for (int ch = 0; ch < channels; ++ch) {
      EXPECT_FLOAT_EQ(out[size_t(t) * channels + ch], stage1[size_t(ch) * frames * 6 + t]) << "t " << t << " ch " << ch;
    }
  }
  ModelConfig bad = c;
  bad.upsample_conv_in = true;
  bad.cin_pad = 1;
  EXPECT_THROW(bad.validate(), Error);
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).to_json(), c.to_json());
}

TEST(Upsample, ShapesFollowTheScales) {
  const ModelConfig c = two_channels({2, 3, 2}, 3, 2);
  const Model model = Model::random(c, 5);
  const std::vector<float> frames(7 * 2, 0.5f);
  EXPECT_EQ(upsample_features(c, UpsampleWeights(model), frames, 7).size(), size_t(7 * 12 * 2));
  EXPECT_THROW(upsample_features(c, UpsampleWeights(model), frames, 6), Error);
}

TEST(Upsample, RefusesFeaturesWhoseUpsamplingExceedsTheMemoryLimit) {
  const ModelConfig c = two_channels({16, 16, 4}, 1, 0);  // planes of 256 samples per frame
  const Model model = Model::random(c, 5);
  const std::vector<float> frames(1000 * 2, 0.5f);  // 1000 x 2 x 272 floats: 2.2 MB
  const uint64_t saved = memory_limit();
  set_memory_limit(1000000);
  EXPECT_THROW(Upsampler(c, UpsampleWeights(model), frames, 1000), Error);
  set_memory_limit(saved);
  EXPECT_EQ(Upsampler(c, UpsampleWeights(model), frames, 1000).samples(), 1000 * 1024);
}

TEST(UpsampleConfig, ScalesMustMultiplyToTheHop) {
  ModelConfig c = two_channels({4, 4}, 1, 0);
  c.local_hop = 32;
  try {
    c.validate();
    FAIL() << "validated";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config: upsample_scales multiply to 16, not local_hop = 32");
  }
  c = two_channels({4}, 2, 0);
  EXPECT_THROW(c.validate(), Error);  // even frequency kernel
  c = two_channels({4}, 1, 0);
  c.cin_pad = 1;  // without conv_in
  EXPECT_THROW(c.validate(), Error);
  ModelConfig no_local = testing::small_config();
  no_local.upsample_scales = {2};
  EXPECT_THROW(no_local.validate(), Error);
}

TEST(UpsampleConfig, JsonRoundTripsAndOldConfigsAreUnchanged) {
  const ModelConfig plain = testing::small_config();
  EXPECT_EQ(plain.to_json().find("upsample"), std::string::npos);
  EXPECT_EQ(plain.to_json().find("local_mel"), std::string::npos);
  const ModelConfig v = default_vocoder_config();
  const ModelConfig back = ModelConfig::from_json(v.to_json());
  EXPECT_EQ(back.to_json(), v.to_json());
  EXPECT_EQ(back.upsample_scales, (std::vector<int>{4, 4, 4, 4}));
  ASSERT_TRUE(back.local_mel.has_value());
  EXPECT_EQ(*back.local_mel, *v.local_mel);
  EXPECT_THROW(ModelConfig::from_json(R"({"local_channels":4,"local_hop":4,"upsample_scales":[2,"2"]})"), Error);
  EXPECT_THROW(ModelConfig::from_json(R"({"local_channels":4,"local_hop":4,"local_mel":{"hop":4}})"), Error);
}

TEST(UpsampleConfig, VocoderSavesAndLoads) {
  testing::TempDir dir;
  ModelConfig c = two_channels({2, 2}, 3, 1);
  c.local_mel = ModelConfig::LocalMel{};
  const Model model = Model::random(c, 9);
  model.save(dir.file("v.fwm"));
  const Model loaded = Model::load(dir.file("v.fwm"));
  EXPECT_EQ(loaded.config().to_json(), c.to_json());
  EXPECT_EQ(loaded.tensors(), model.tensors());
  EXPECT_EQ(loaded.tensor("upsample.convs.1.weight").shape, (std::vector<int64_t>{1, 1, 3, 5}));
  EXPECT_EQ(loaded.tensor("upsample.conv_in.weight").shape, (std::vector<int64_t>{2, 2, 3}));
}

TEST(UpsampleConfig, QuantizingAVocoderKeepsTheUpsamplingInFloat) {
  const ModelConfig c = two_channels({2, 2}, 3, 1);
  const Model model = Model::random(c, 4);
  const Model q = quantize(model, QuantizeOptions{});
  EXPECT_EQ(q.tensor("upsample.convs.0.weight"), model.tensor("upsample.convs.0.weight"));
  EXPECT_EQ(q.tensor("upsample.conv_in.weight"), model.tensor("upsample.conv_in.weight"));
  Conditioning cond;
  cond.local_frames = 30;
  cond.local_features.assign(60, 0.25f);
  auto generator = make_generator(q, Method::kFast, cond);
  GenerateOptions options;
  options.samples = 100;
  EXPECT_EQ(generate(*generator, c, options).size(), 100u);
}

}  // namespace
}  // namespace fastwave
