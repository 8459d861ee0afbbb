// fastwave init --vocoder, mel and vocode end to end, and their one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cli_run.h"

namespace fastwave {
namespace {

using testing::CliRun;
using testing::run_cli;

class VocoderCli : public ::testing::Test {
 protected:
  void SetUp() override {
    vocoder_ = dir_.file("v.fwm");
    const CliRun r = run_cli("init --vocoder --blocks 1 --layers-per-block 4 --residual-channels 8 --dilation-channels 8 "
                             "--skip-channels 8 --end-channels 8 --classes 64 --local-channels 20 --local-hop 16 "
                             "--upsample-scales 4,4 --seed 2 -o " + vocoder_, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<float> speechy(8000 + 5);  // 500 frames of 16 samples, and a remainder
    for (size_t t = 0; t < speechy.size(); ++t) speechy[t] = 0.3f * std::sin(0.07f * float(t) * (1 + float(t) / 8000));
    write_wav(dir_.file("in.wav"), speechy, 16000);
  }
  void expect_failure(const std::string& args, const std::string& fragment) {
    testing::expect_one_line_failure(run_cli(args, dir_), args, fragment);
  }
  std::string vocode(const std::string& out, const std::string& extra) {
    return "vocode -q -m " + vocoder_ + " --mel " + dir_.file("mel.npy") + " -o " + dir_.file(out) + " " + extra;
  }
  testing::TempDir dir_;
  std::string vocoder_;
};

TEST_F(VocoderCli, MelThenVocodeGivesFramesTimesHopSamplesDeterministicInTheSeed) {
  CliRun r = run_cli("mel " + dir_.file("in.wav") + " -m " + vocoder_ + " -o " + dir_.file("mel.npy"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> shape;
  read_npy(dir_.file("mel.npy"), &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{500, 20}));

  ASSERT_EQ(run_cli(vocode("a.wav", "--seed 7"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode("b.wav", "--seed 7"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode("c.wav", "--seed 8"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode("naive.wav", "--seed 7 --method naive"), dir_).exit_code, 0);
  const auto a = read_audio(dir_.file("a.wav"), 16000);
  EXPECT_EQ(a.size(), 8000u);
  EXPECT_EQ(read_audio(dir_.file("b.wav"), 16000), a);
  EXPECT_NE(read_audio(dir_.file("c.wav"), 16000), a);
  EXPECT_EQ(read_audio(dir_.file("naive.wav"), 16000), a);  // the oracle samples the same ids
}

// Several utterances run as streams over one network; each is what vocoding it alone gives.
TEST_F(VocoderCli, SeveralMelsAreStreamsEqualToEachAlone) {
  std::vector<float> other(4000);
  for (size_t t = 0; t < other.size(); ++t) other[t] = 0.2f * std::sin(0.11f * float(t));
  write_wav(dir_.file("other.wav"), other, 16000);
  const std::string mel = "mel -q -m " + vocoder_ + " ";
  ASSERT_EQ(run_cli(mel + dir_.file("in.wav") + " -o " + dir_.file("a.npy"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(mel + dir_.file("other.wav") + " -o " + dir_.file("b.npy"), dir_).exit_code, 0);
  const std::string vocode = "vocode -q --seed 3 -m " + vocoder_;
  for (const char* name : {"a", "b"}) {
    ASSERT_EQ(run_cli(vocode + " --mel " + dir_.file(std::string(name) + ".npy") + " -o " +
                          dir_.file(std::string("alone_") + name + ".wav"), dir_).exit_code, 0);
  }
  const CliRun r = run_cli(vocode + " --threads 2 --mel " + dir_.file("a.npy") + " --mel " + dir_.file("b.npy") +
                               " -o " + dir_.file("batch.wav"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_audio(dir_.file("batch_0.wav"), 16000), read_audio(dir_.file("alone_a.wav"), 16000));
  EXPECT_EQ(read_audio(dir_.file("batch_1.wav"), 16000), read_audio(dir_.file("alone_b.wav"), 16000));
  expect_failure(vocode + " --mel - --mel - -o " + dir_.file("x.wav"), "standard input");
}

// A pre-emphasis vocoder: the same features as without it; the same codes from the same
// weights and seed, de-emphasised into the WAV the same way by every path.
TEST_F(VocoderCli, PreemphasisIsUndoneAlikeOnEveryPath) {
  const std::string emphasised = dir_.file("e.fwm");
  CliRun r = run_cli("init --vocoder --blocks 1 --layers-per-block 4 --residual-channels 8 --dilation-channels 8 "
                     "--skip-channels 8 --end-channels 8 --classes 64 --local-channels 20 --local-hop 16 "
                     "--upsample-scales 4,4 --seed 2 --preemphasis 0.85 -o " + emphasised, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string in = dir_.file("in.wav");
  ASSERT_EQ(run_cli("mel -q " + in + " -m " + vocoder_ + " -o " + dir_.file("mel.npy"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli("mel -q " + in + " -m " + emphasised + " -o " + dir_.file("e.npy"), dir_).exit_code, 0);
  EXPECT_EQ(read_npy(dir_.file("e.npy"), nullptr), read_npy(dir_.file("mel.npy"), nullptr));

  const std::string vocode = "vocode -q --seed 5 --mel " + dir_.file("mel.npy") + " ";
  ASSERT_EQ(run_cli(vocode + "-m " + vocoder_ + " -o " + dir_.file("plain.wav"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode + "-m " + emphasised + " -o " + dir_.file("streamed.wav"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode + "-m " + emphasised + " --method naive -o " + dir_.file("naive.wav"), dir_).exit_code, 0);
  r = run_cli(vocode + "-m " + emphasised + " --mel " + dir_.file("mel.npy") + " -o " + dir_.file("two.wav"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto streamed = read_audio(dir_.file("streamed.wav"), 16000);
  EXPECT_EQ(read_audio(dir_.file("naive.wav"), 16000), streamed);
  EXPECT_EQ(read_audio(dir_.file("two_0.wav"), 16000), streamed);
  EXPECT_EQ(read_audio(dir_.file("two_1.wav"), 16000), streamed);

  // x[n] = e[n] + 0.85 x[n-1] over the plain model's output (the same codes); each WAV
  // rounds to 16 bits, which the recursion carries at most 1 / (1 - 0.85) times.
  const auto plain = read_audio(dir_.file("plain.wav"), 16000);
  ASSERT_EQ(plain.size(), streamed.size());
  double x = 0, worst = 0;
  for (size_t n = 0; n < plain.size(); ++n) {
    x = plain[n] + 0.85 * x;
    worst = std::max(worst, std::fabs(std::clamp(x, -1.0, 32767.0 / 32768) - streamed[n]));
  }
  EXPECT_LE(worst * 32768, 4.0);
}

// Copy synthesis as one pipeline: the features on standard output, read from standard input.
TEST_F(VocoderCli, MelPipesIntoVocode) {
  const std::string mel = "mel " + dir_.file("in.wav") + " -m " + vocoder_;
  ASSERT_EQ(run_cli(mel + " -q -o " + dir_.file("mel.npy"), dir_).exit_code, 0);
  ASSERT_EQ(run_cli(vocode("file.wav", "--seed 7"), dir_).exit_code, 0);
  const CliRun r = run_cli(mel + " -o - | " + std::string(FASTWAVE_BINARY) + " vocode -q -m " + vocoder_ +
                               " --mel - --seed 7 -o " + dir_.file("pipe.wav"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_audio(dir_.file("pipe.wav"), 16000), read_audio(dir_.file("file.wav"), 16000));
  testing::write_bytes(dir_.file("junk"), {'n', 'o', 't', ' ', 'n', 'p', 'y'});
  testing::expect_one_line_failure(
      run_cli("vocode -m " + vocoder_ + " --mel - -o " + dir_.file("x.wav") + " < " + dir_.file("junk"), dir_),
      "junk on stdin", "standard input");
}

// One utterance is vocoded as its frames are read: a pipe that ends early, or carries more
// than its header says, is a one-line error after the fact, and no WAV is left behind.
TEST_F(VocoderCli, StreamedMelThatEndsEarlyOrRunsOnIsRefused) {
  ASSERT_EQ(run_cli("mel -q " + dir_.file("in.wav") + " -m " + vocoder_ + " -o " + dir_.file("mel.npy"), dir_).exit_code, 0);
  auto bytes = testing::read_bytes(dir_.file("mel.npy"));
  testing::write_bytes(dir_.file("long.npy"), [&] { auto b = bytes; b.resize(b.size() + 80, 0); return b; }());
  bytes.resize(bytes.size() - 4 * 20 * 100);  // 100 frames short
  testing::write_bytes(dir_.file("short.npy"), bytes);
  const std::string vocode = "vocode -q -m " + vocoder_ + " --mel - -o " + dir_.file("x.wav") + " < ";
  testing::expect_one_line_failure(run_cli(vocode + dir_.file("short.npy"), dir_), "short pipe", "truncated after");
  testing::expect_one_line_failure(run_cli(vocode + dir_.file("long.npy"), dir_), "long pipe", "more data than");
  expect_failure("vocode -m " + vocoder_ + " --mel " + dir_.file("short.npy") + " -o " + dir_.file("x.wav"),
                 "does not match");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.wav")));
}

// Static scales and budgets calibrate a vocoder on audio: its features come from its own front end.
TEST_F(VocoderCli, QuantizeCalibratesOnAudio) {
  for (const std::string scheme : {"--scheme int8-static", "--budget-mb 0.02"}) {
    const CliRun r = run_cli("quantize " + vocoder_ + " -o " + dir_.file("q.fwm") + " " + scheme + " --calib " +
                                 dir_.file("in.wav"), dir_);
    ASSERT_EQ(r.exit_code, 0) << scheme << ": " << r.err;
    ASSERT_EQ(run_cli("mel -q " + dir_.file("in.wav") + " -m " + vocoder_ + " -o " + dir_.file("mel.npy"), dir_).exit_code, 0);
    const CliRun v = run_cli("vocode -q -m " + dir_.file("q.fwm") + " --mel " + dir_.file("mel.npy") + " -o " +
                                 dir_.file("q.wav"), dir_);
    EXPECT_EQ(v.exit_code, 0) << scheme << ": " << v.err;
  }
}

// The audio's last partial hop has no frame: eval scores the 8000 samples the mel covers;
// features of a shorter file are a mismatch, named.
TEST_F(VocoderCli, EvalScoresTheSamplesItsMelCovers) {
  ASSERT_EQ(run_cli("mel -q " + dir_.file("in.wav") + " -m " + vocoder_ + " -o " + dir_.file("mel.npy"), dir_).exit_code, 0);
  const CliRun r = run_cli("eval -m " + vocoder_ + " --wav " + dir_.file("in.wav") + " --local-features " +
                               dir_.file("mel.npy"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("over 7999 positions"), std::string::npos) << r.out;

  write_npy(dir_.file("few.npy"), std::vector<float>(100 * 20, 0.5f), {100, 20});
  expect_failure("eval -m " + vocoder_ + " --wav " + dir_.file("in.wav") + " --local-features " + dir_.file("few.npy"),
                 "few.npy': 100 frames cover 1600 samples, but");
}

TEST_F(VocoderCli, DefaultFrontEndWithoutAModel) {
  const CliRun r = run_cli("mel " + dir_.file("in.wav") + " -o " + dir_.file("default.npy"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> shape;
  read_npy(dir_.file("default.npy"), &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{8005 / 256, 80}));
}

TEST_F(VocoderCli, OneLineErrors) {
  const std::string plain = dir_.file("plain.fwm");
  Model::random(testing::small_config(), 1).save(plain);
  write_npy(dir_.file("bands.npy"), std::vector<float>(10 * 7, 0.5f), {10, 7});
  write_npy(dir_.file("flat.npy"), std::vector<float>(40, 0.5f), {40});
  testing::write_bytes(dir_.file("junk.npy"), {'n', 'o', 't', ' ', 'n', 'p', 'y'});
  std::vector<float> short_audio(10, 0.1f);
  write_wav(dir_.file("short.wav"), short_audio, 16000);
  const std::string out = " -o " + dir_.file("out.wav");

  expect_failure("vocode -m " + vocoder_ + " --mel " + dir_.file("bands.npy") + out, "has 7 bands; the vocoder takes 20");
  expect_failure("vocode -m " + vocoder_ + " --mel " + dir_.file("flat.npy") + out, "flat.npy");
  expect_failure("vocode -m " + vocoder_ + " --mel " + dir_.file("junk.npy") + out, "junk.npy");
  expect_failure("vocode -m " + vocoder_ + " --mel " + dir_.file("missing.npy") + out, "missing.npy");
  expect_failure("vocode -m " + plain + " --mel " + dir_.file("bands.npy") + out, "has no local conditioning");
  expect_failure("mel " + dir_.file("in.wav") + " -m " + plain + " -o " + dir_.file("m.npy"), "records no mel front end");
  expect_failure("mel " + dir_.file("short.wav") + " -m " + vocoder_ + " -o " + dir_.file("m.npy"),
                 "shorter than one frame");
  expect_failure("init --vocoder --local-hop 64 -o " + dir_.file("bad.fwm"), "upsample_scales multiply to 256");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("out.wav")));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("m.npy")));
}

TEST_F(VocoderCli, HelpNamesTheOptions) {
  const CliRun r = run_cli("vocode --help", dir_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--mel"), std::string::npos);
  EXPECT_NE(r.out.find("--temperature"), std::string::npos);
  EXPECT_NE(run_cli("mel --help", dir_).out.find("--model"), std::string::npos);
}

}  // namespace
}  // namespace fastwave
