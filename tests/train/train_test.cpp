// Training end to end on a synthetic dataset: the loss falls, the export loads in the
// engine and computes the libtorch network's logits, and resuming is bit-exact.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include "../test_util.h"
#include "fastwave/audio.h"
#include "train/dataset.h"
#include "train/net.h"
#include "train/trainer.h"

namespace fastwave {
namespace {

// Sines of two "speakers" (different pitches), 1.5 s each; text with a quoted comma to
// exercise the CSV reader. With `pauses`, 60 ms of sound follow 90 ms of silence over and
// over: onsets in every crop.
void write_sine_dataset(const testing::TempDir& dir, bool pauses = false) {
  std::filesystem::create_directories(dir.path() / "wav");
  std::ofstream csv(dir.file("metadata.csv"));
  csv << "speaker,gender,engine,voice,split,path,seconds,text\n";
  for (int i = 0; i < 8; ++i) {
    const bool bob = i % 2;
    const double hz = (bob ? 330.0 : 220.0) * (1 + i % 3);
    std::vector<float> x(24000);
    for (size_t t = 0; t < x.size(); ++t) {
      const bool quiet = pauses && t % 2400 < 1440;
      x[t] = quiet ? 0.0f : 0.5f * std::sin(2 * M_PI * hz * t / 16000 + i);
    }
    const std::string path = "wav/" + std::to_string(i) + ".wav";
    write_wav(dir.file(path), x, 16000);
    csv << (bob ? "bob" : "alice") << ",x,synth,v," << (i < 6 ? "train" : "valid") << ","
        << path << ",1.5,\"a sine, \"\"" << hz << "\"\" Hz\"\n";
  }
}

train::TrainOptions tiny_options(const testing::TempDir& dir) {
  train::TrainOptions o;
  o.data_dir = dir.path().string();
  o.output = dir.file("tiny.fwm");
  ModelConfig& c = o.config;
  c.blocks = 2;
  c.layers_per_block = 4;
  c.residual_channels = 8;
  c.dilation_channels = 8;
  c.skip_channels = 16;
  c.end_channels = 16;
  c.classes = 64;
  c.kernel_size = 3;  // every tensor kind and a general kernel size
  c.bias = true;
  o.speakers_from_metadata = true;
  o.steps = 120;
  o.batch = 4;
  o.output_length = 1024;
  o.lr = 1e-2;
  o.warmup_steps = 10;
  o.valid_every = 60;
  o.threads = 1;  // robust against a loaded machine (ctest -j); 2 threads behave the same
  o.quiet = true;
  return o;
}

double mean(const std::vector<float>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + from, v.begin() + to, 0.0) / double(to - from);
}

TEST(Train, LossFallsAndExportMatchesTorch) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  const auto options = tiny_options(dir);
  const auto result = train::train(options);
  ASSERT_EQ(result.losses.size(), 120u);
  // From log2(64) = 6 bits (uniform) down by well over one bit.
  EXPECT_LT(mean(result.losses, 110, 120), mean(result.losses, 0, 10) - 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir.file("tiny.speakers.json")));

  const Model model = Model::load(options.output);
  ASSERT_EQ(model.config().speakers, 2);
  // The same weights in the libtorch network.
  train::Net net(model.config());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      const auto w = model.weights(p.key());
      p.value().copy_(torch::from_blob(const_cast<float*>(w.data()), p.value().sizes()));
    }
  }
  const int rf = model.config().receptive_field();
  std::vector<int> ids(2 * rf + 37);
  for (size_t t = 0; t < ids.size(); ++t) ids[t] = int((t * 7 + t * t / 5) % 64);
  Conditioning cond;
  cond.speaker = 1;
  const std::vector<float> engine = teacher_forced_logits(model, ids, cond);

  torch::NoGradGuard no_grad;
  const auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).view({1, -1});
  const auto speaker = torch::full({1}, int64_t(1), torch::kInt64);
  // Causal: all positions; engine row t = torch column t, for t < n-1.
  const auto causal = net->forward(input, speaker, true)[0].t().contiguous();
  const auto valid = net->forward(input, speaker, false)[0].t().contiguous();
  const int64_t n = int64_t(ids.size()), classes = 64;
  ASSERT_EQ(int64_t(engine.size()), (n - 1) * classes);
  const float* c = causal.data_ptr<float>();
  for (int64_t i = 0; i < (n - 1) * classes; ++i) {
    ASSERT_NEAR(engine[i], c[i], 1e-4 + 1e-4 * std::abs(c[i])) << "logit " << i;
  }
  // The training ("valid") forward is the causal one past the receptive field.
  EXPECT_TRUE(torch::allclose(valid, causal.narrow(0, rf - 1, n - rf + 1), 1e-4, 1e-5));
}

TEST(Train, InitFromContinuesAModelAndNeverExportsWorse) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  auto first = tiny_options(dir);
  first.steps = 60;
  train::train(first);
  const Model start = Model::load(first.output);

  // Continue it into another file: the config comes from the model, not the flags.
  auto more = tiny_options(dir);
  more.init_from = first.output;
  more.output = dir.file("more.fwm");
  more.config = ModelConfig{};  // ignored
  more.steps = 40;
  more.valid_every = 20;
  const auto result = train::train(more);
  EXPECT_EQ(result.step, 40);
  if (std::filesystem::exists(more.output)) {
    EXPECT_EQ(Model::load(more.output).config().to_json(), start.config().to_json());
  }

  // A run that cannot beat the starting model (learning rate ~0) exports nothing.
  auto stuck = tiny_options(dir);
  stuck.init_from = first.output;
  stuck.output = dir.file("stuck.fwm");
  stuck.lr = 1e-12;
  stuck.steps = 20;
  stuck.valid_every = 10;
  train::train(stuck);
  EXPECT_FALSE(std::filesystem::exists(stuck.output));

  // A quantized model cannot be trained from.
  QuantizeOptions q;
  q.scheme = Scheme::kInt8Dynamic;
  quantize(start, q).save(dir.file("q.fwm"));
  auto quantized = tiny_options(dir);
  quantized.init_from = dir.file("q.fwm");
  quantized.output = dir.file("q_more.fwm");
  quantized.checkpoint_dir = dir.file("q_ckpt");
  EXPECT_THROW(train::train(quantized), Error);

  // --preemphasis recodes the samples of a model it continues: the same tensors, and every
  // export says so.
  auto emphasised = tiny_options(dir);
  emphasised.init_from = first.output;
  emphasised.preemphasis = 0.85;
  emphasised.output = dir.file("emphasised.fwm");
  emphasised.snapshots = true;
  emphasised.steps = 10;
  emphasised.valid_every = 10;
  train::train(emphasised);
  ModelConfig expected = start.config();
  expected.preemphasis = 0.85;
  EXPECT_EQ(Model::load(dir.file("emphasised.step10.fwm")).config().to_json(), expected.to_json());
}

// Trains `options` for 20 steps straight, then again stopped after 10 and resumed: the
// resumed half must repeat the straight run's losses, best NLL and exported file exactly.
void expect_resume_is_bit_exact(const testing::TempDir& dir, train::TrainOptions options) {
  options.steps = 20;
  options.valid_every = 10;
  options.checkpoint_dir = dir.file("straight");
  options.output = dir.file("straight.fwm");
  const auto straight = train::train(options);

  options.checkpoint_dir = dir.file("resumed");
  options.output = dir.file("resumed.fwm");
  options.stop_after_step = 10;
  EXPECT_EQ(train::train(options).step, 10);
  options.stop_after_step = 0;
  options.resume = true;
  const auto resumed = train::train(options);
  ASSERT_EQ(resumed.losses.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(resumed.losses[i], straight.losses[10 + i]) << i;
  EXPECT_EQ(resumed.best_valid_bits, straight.best_valid_bits);
  EXPECT_EQ(testing::read_bytes(options.output), testing::read_bytes(dir.file("straight.fwm")));
}

TEST(Train, ResumeIsBitExact) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  expect_resume_is_bit_exact(dir, tiny_options(dir));
}

// Three steps each, same seed and initial weights. The logged loss is the plain NLL before
// each update, so onset weights show from the second step on and input noise from the first.
TEST(Train, OnsetWeightsAndInputNoiseChangeTraining) {
  testing::TempDir dir;
  write_sine_dataset(dir, true);
  auto run = [&](const std::string& name, double onset_weight, int input_noise,
                 double noisy_crop_fraction = 1) {
    auto options = tiny_options(dir);
    options.steps = 3;
    options.warmup_steps = 1;  // the full rate from the first step
    options.output_length = 4096;
    options.output = dir.file(name + ".fwm");
    options.onset_weight = onset_weight;
    options.input_noise = input_noise;
    options.noisy_crop_fraction = noisy_crop_fraction;
    return train::train(options).losses;
  };
  const auto plain = run("plain", 1, 0), onsets = run("onsets", 4, 0);
  const auto noisy = run("noisy", 1, 8), noisy_again = run("noisy_again", 1, 8);
  ASSERT_EQ(plain.size(), 3u);
  EXPECT_EQ(onsets[0], plain[0]);
  // Without onsets in the data the two runs are bit-identical; here they differ by ~2e-3.
  EXPECT_GT(std::abs(onsets[1] - plain[1]), 1e-4) << plain[1];
  EXPECT_NE(noisy[0], plain[0]);
  EXPECT_EQ(noisy, noisy_again);  // the noise comes from the step's seeded RNG
  EXPECT_EQ(run("no_noisy_crops", 1, 8, 0), plain);
  const auto half = run("half", 1, 8, 0.5);
  EXPECT_NE(half, plain);
  EXPECT_NE(half, noisy);
}

TEST(Train, SnapshotsExportEveryValidation) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  auto options = tiny_options(dir);
  options.steps = 4;
  options.valid_every = 2;
  options.snapshots = true;
  train::train(options);
  for (const char* name : {"tiny.step2.fwm", "tiny.step4.fwm"}) {
    EXPECT_EQ(Model::load(dir.file(name)).config().classes, 64) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("tiny.step3.fwm")));
}

// --ema validates and exports the average: with a decay so close to 1 that the average
// never leaves its start, every snapshot is the starting model, while the live weights
// (what a run without --ema exports) moved; and resuming restores the average exactly.
TEST(Train, EmaExportsTheAveragedWeightsAndResumesThem) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  auto first = tiny_options(dir);
  first.steps = 10;
  train::train(first);
  const Model start = Model::load(first.output);
  auto weights = [](const Model& m) {
    std::vector<float> all;
    for (const auto& entry : m.tensors()) {
      const auto w = m.weights(entry.first);
      all.insert(all.end(), w.begin(), w.end());
    }
    return all;
  };

  auto run = [&](const std::string& name, double decay) {
    auto options = tiny_options(dir);
    options.init_from = first.output;
    options.output = dir.file(name + ".fwm");
    options.steps = 4;
    options.valid_every = 4;
    options.snapshots = true;
    options.ema_decay = decay;
    train::train(options);
    return weights(Model::load(dir.file(name + ".step4.fwm")));
  };
  const auto frozen = run("frozen", 1 - 1e-12), live = run("live", 0), averaged = run("averaged", 0.5);
  const auto initial = weights(start);
  ASSERT_EQ(frozen.size(), initial.size());
  for (size_t i = 0; i < initial.size(); ++i) ASSERT_NEAR(frozen[i], initial[i], 1e-6) << i;
  double moved = 0, averaged_moved = 0;
  for (size_t i = 0; i < initial.size(); ++i) {
    moved += std::abs(live[i] - initial[i]);
    averaged_moved += std::abs(averaged[i] - initial[i]);
  }
  EXPECT_GT(moved, 1e-3);
  // Decay 0.5 over 4 steps: the average lags the live weights.
  EXPECT_GT(averaged_moved, 0);
  EXPECT_LT(averaged_moved, moved);

  auto options = tiny_options(dir);
  options.ema_decay = 0.9;
  expect_resume_is_bit_exact(dir, options);

  options = tiny_options(dir);
  options.ema_decay = 1;
  try {
    train::train(options);
    FAIL() << "decay 1 accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--ema must be in [0, 1)");
  }
}

TEST(Train, PerturbCodesStaysWithinNoiseAndRange) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> ids(4000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i % 64);
  auto noisy = ids;
  train::perturb_codes(rng, 64, 3, noisy.data(), int64_t(noisy.size()));
  std::vector<int> offsets(7);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t d = noisy[i] - ids[i];
    ASSERT_LE(std::abs(d), 3) << i;
    ASSERT_GE(noisy[i], 0);
    ASSERT_LT(noisy[i], 64);
    ++offsets[d + 3];
  }
  for (int d = 0; d < 7; ++d) EXPECT_GT(offsets[d], 300) << "offset " << d - 3;  // ~570 each
  auto same = ids;
  train::perturb_codes(rng, 64, 0, same.data(), int64_t(same.size()));
  EXPECT_EQ(same, ids);
}

TEST(Train, BadInputsAreOneLineErrors) {
  testing::TempDir dir;
  auto options = tiny_options(dir);
  options.data_dir = dir.file("missing");
  EXPECT_THROW(train::train(options), Error);

  write_sine_dataset(dir);
  options = tiny_options(dir);
  options.input_noise = -1;
  try {
    train::train(options);
    FAIL() << "negative input noise accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--input-noise must not be negative");
  }
  options.input_noise = 1;
  options.noisy_crop_fraction = 1.5;
  EXPECT_THROW(train::train(options), Error);
  options = tiny_options(dir);
  {
    std::ofstream csv(dir.file("metadata.csv"));  // a train split only
    csv << "speaker,split,path\nalice,train,wav/0.wav\n";
  }
  try {
    train::train(options);
    FAIL() << "no valid split accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the dataset has no 'valid' files");
  }
  options.output_length = 100000;  // longer than every file
  {
    std::ofstream csv(dir.file("metadata.csv"));
    csv << "speaker,split,path\nalice,train,wav/0.wav\nalice,valid,wav/1.wav\n";
  }
  EXPECT_THROW(train::train(options), Error);
}

// A tiny vocoder: upsampling with conv_in and a frequency kernel, kernel size 3.
ModelConfig tiny_vocoder() {
  ModelConfig c;
  c.blocks = 1;
  c.layers_per_block = 4;
  c.residual_channels = 8;
  c.dilation_channels = 8;
  c.skip_channels = 16;
  c.end_channels = 16;
  c.classes = 64;
  c.kernel_size = 3;
  c.local_channels = 6;
  c.local_hop = 16;
  c.upsample_scales = {4, 4};
  c.upsample_freq_kernel = 3;
  c.upsample_conv_in = true;
  c.cin_pad = 2;
  c.local_mel = ModelConfig::LocalMel{};
  c.local_mel->fft_size = 128;
  return c;
}

// Parameters away from their (averaging) initial values, so every weight matters.
void perturb(train::Net& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.add_(torch::randn_like(p) * 0.3);
}

// The libtorch vocoder's exported weights give the engine's teacher-forced logits.
void expect_export_matches_engine(const ModelConfig& c) {
  torch::manual_seed(4);
  train::Net net(c);
  perturb(net);
  const Model model = net->to_model();
  const int frames = 20, n = frames * c.local_hop - 5;
  std::vector<float> mel(size_t(frames) * c.local_channels);
  for (size_t i = 0; i < mel.size(); ++i) mel[i] = float((i * 37) % 11) / 11.0f;
  std::vector<int> ids(n);
  for (int t = 0; t < n; ++t) ids[t] = (t * 7 + t * t / 5) % 64;
  Conditioning cond;
  cond.local_features = mel;
  cond.local_frames = frames;
  const std::vector<float> engine = teacher_forced_logits(model, ids, cond);

  torch::NoGradGuard no_grad;
  const auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).view({1, -1});
  const auto local = train::crop_features(net, mel, 0, n);
  const auto logits = net->forward(input, torch::Tensor(), true, local)[0].t().contiguous();
  ASSERT_EQ(int64_t(engine.size()), int64_t(n - 1) * 64);
  const float* l = logits.data_ptr<float>();
  for (int64_t i = 0; i < int64_t(n - 1) * 64; ++i) {
    ASSERT_NEAR(engine[i], l[i], 1e-4 + 1e-4 * std::abs(l[i])) << "logit " << i;
  }
}

class TrainVocoderFreqKernel : public ::testing::TestWithParam<int> {};

// Kernel 1 takes the engine's path that projects before the last stage, 3 the direct one.
TEST_P(TrainVocoderFreqKernel, ExportMatchesTheEnginesTeacherForcedLogits) {
  ModelConfig c = tiny_vocoder();
  c.upsample_freq_kernel = GetParam();
  expect_export_matches_engine(c);
}

// r9y9's older transposed-conv stages (bias, ReLU), with and without a frequency kernel.
TEST(TrainVocoder, TransposedUpsamplingExportMatchesTheEngine) {
  for (int freq_kernel : {1, 3}) {
    ModelConfig c = tiny_vocoder();
    c.upsample_conv_in = false;
    c.cin_pad = 0;
    c.upsample_transposed = true;
    c.upsample_freq_kernel = freq_kernel;
    SCOPED_TRACE(freq_kernel);
    expect_export_matches_engine(c);
  }
}

INSTANTIATE_TEST_SUITE_P(TrainVocoder, TrainVocoderFreqKernel, ::testing::Values(1, 3));

TEST(TrainVocoder, CropFeaturesEqualUpsamplingTheWholeSequence) {
  torch::manual_seed(5);
  const ModelConfig c = tiny_vocoder();
  train::Net net(c);
  perturb(net);
  const int frames = 40;
  std::vector<float> mel(size_t(frames) * c.local_channels);
  for (size_t i = 0; i < mel.size(); ++i) mel[i] = float((i * 13) % 7) / 7.0f - 0.3f;
  torch::NoGradGuard no_grad;
  const auto all = net->upsample(torch::from_blob(mel.data(), {frames, c.local_channels}).t().unsqueeze(0).contiguous());
  for (int64_t start : {-50, -1, 0, 3, 16, 100, 300, 555}) {
    const int64_t count = std::min<int64_t>(100, frames * c.local_hop - start);
    const auto crop = train::crop_features(net, mel, start, count);
    const int64_t zeros = std::max<int64_t>(0, -start);
    EXPECT_TRUE(torch::all(crop.narrow(2, 0, zeros) == 0).item<bool>()) << start;
    EXPECT_TRUE(torch::allclose(crop.narrow(2, zeros, count - zeros), all.narrow(2, start + zeros, count - zeros),
                                1e-5, 1e-6)) << "start " << start;
  }
}

TEST(TrainVocoder, TrainsOnAudioAndExportsAVocoder) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  auto options = tiny_options(dir);
  options.config = tiny_vocoder();
  options.speakers_from_metadata = false;
  options.steps = 40;
  options.valid_every = 40;
  options.output_length = 256;
  options.batch = 2;
  const auto result = train::train(options);
  ASSERT_EQ(result.losses.size(), 40u);
  EXPECT_LT(mean(result.losses, 35, 40), mean(result.losses, 0, 5));
  const Model model = Model::load(options.output);
  EXPECT_EQ(model.config().to_json(), options.config.to_json());
  EXPECT_EQ(model.tensor("upsample.convs.1.weight").shape, (std::vector<int64_t>{1, 1, 3, 9}));
}

// Mixture outputs: the export computes the libtorch outputs in the engine, and the training
// loss is the engine's NLL (float here, double there).
class TrainMixture : public ::testing::TestWithParam<ModelConfig::Output> {};

TEST_P(TrainMixture, ExportAndLossMatchTheEngine) {
  torch::manual_seed(6);
  ModelConfig c;
  c.blocks = 2;
  c.layers_per_block = 3;
  c.residual_channels = 8;
  c.dilation_channels = 8;
  c.skip_channels = 16;
  c.end_channels = 16;
  c.kernel_size = 3;
  c.bias = true;
  c.output = GetParam();
  c.mixtures = GetParam() == ModelConfig::Output::kLogisticMixture ? 3 : 1;
  c.classes = 65536;
  train::Net net(c);
  perturb(net);
  const Model model = net->to_model();
  const int64_t n = 2 * c.receptive_field() + 37;
  std::vector<int> codes(n);
  for (int64_t t = 0; t < n; ++t) codes[t] = 32768 + int(12000 * std::sin(0.07 * double(t)));
  std::vector<float> engine;
  const EvalResult result = evaluate(model, codes, {}, 1, &engine);

  torch::NoGradGuard no_grad;
  const auto input = torch::tensor(std::vector<int64_t>(codes.begin(), codes.end())).view({1, -1});
  const auto outputs = net->forward(input, torch::Tensor(), true).narrow(2, 0, n - 1);
  const auto rows = outputs[0].t().contiguous();
  const int64_t width = c.outputs();
  ASSERT_EQ(int64_t(engine.size()), (n - 1) * width);
  const float* o = rows.data_ptr<float>();
  for (int64_t i = 0; i < (n - 1) * width; ++i) ASSERT_NEAR(engine[i], o[i], 1e-4 + 1e-4 * std::abs(o[i])) << i;
  const double torch_bits = train::output_nll(c, outputs, input.narrow(1, 1, n - 1)).mean().item<double>() / std::log(2.0);
  EXPECT_NEAR(torch_bits, result.nll_bits_per_sample, 1e-3 * result.nll_bits_per_sample);
}

INSTANTIATE_TEST_SUITE_P(Outputs, TrainMixture,
                         ::testing::Values(ModelConfig::Output::kLogisticMixture, ModelConfig::Output::kGaussianMixture));

TEST(TrainMixture, LearnsSinesInSixteenBits) {
  testing::TempDir dir;
  write_sine_dataset(dir);
  auto options = tiny_options(dir);
  options.config.output = ModelConfig::Output::kLogisticMixture;
  options.config.mixtures = 4;
  options.config.classes = 65536;
  options.steps = 60;
  options.valid_every = 60;
  const auto result = train::train(options);
  ASSERT_EQ(result.losses.size(), 60u);
  EXPECT_LT(mean(result.losses, 50, 60), mean(result.losses, 0, 10) - 1.0);
  const ModelConfig exported = Model::load(options.output).config();
  EXPECT_EQ(exported.output, ModelConfig::Output::kLogisticMixture);
  EXPECT_EQ(exported.mixtures, 4);
}

// 16 kHz µ-law: 10 ms frames of 160 samples; loud = a 0.3 full-scale square wave.
TEST(Train, OnsetWeightsMarkTheFirst30msOfSoundAfter50msOfQuiet) {
  ModelConfig c;
  c.classes = 256;
  c.sample_rate = 16000;
  const int64_t quiet = mulaw_encode(0.001f, 256), loud[2] = {mulaw_encode(0.3f, 256),
                                                               mulaw_encode(-0.3f, 256)};
  // Frames: 0-5 quiet, 6-9 loud (onset 6-8), 10-13 quiet (too short a pause), 14-15 loud,
  // 16-20 quiet, 21 loud, 22 quiet, 23 loud half a frame (onset 21 and 23, not 22).
  const std::string frames = "qqqqqqLLLLqqqqLLqqqqqLqL";
  std::vector<int64_t> ids;
  for (size_t f = 0; f < frames.size(); ++f) {
    const int64_t n = f + 1 == frames.size() ? 80 : 160;
    for (int64_t i = 0; i < n; ++i) ids.push_back(frames[f] == 'q' ? quiet : loud[i % 2]);
  }
  const auto w = train::onset_weights(c, ids.data(), int64_t(ids.size()), 4.0f);
  ASSERT_EQ(w.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t f = i / 160;
    const bool onset = (f >= 6 && f <= 8) || f == 21 || f == 23;
    EXPECT_EQ(w[i], onset ? 4.0f : 1.0f) << "sample " << i << " frame " << f;
  }
}

TEST(Train, MetadataSpeakersSortNumerically) {
  std::vector<train::Utterance> rows = {{"10", "train", "a"}, {"9", "train", "b"}, {"10", "valid", "c"}};
  EXPECT_EQ(train::speaker_names(rows), (std::vector<std::string>{"9", "10"}));
}

}  // namespace
}  // namespace fastwave
