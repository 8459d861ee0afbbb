// The fastwave binary: it works, and bad input gets one clear line and a non-zero exit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>

#include <array>
#include <cmath>
#include <cstdio>

#include "cli_run.h"

namespace fastwave {
namespace {

using testing::CliRun;
using testing::run_cli;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.file("m.fwm");
    Model::random(testing::small_config(), 3).save(model_);
  }
  // A failure is exit code 1 with one line that names the problem.
  void expect_failure(const std::string& args, const std::string& fragment) {
    testing::expect_one_line_failure(run_cli(args, dir_), args, fragment);
  }
  testing::TempDir dir_;
  std::string model_;
};

TEST_F(Cli, GeneratesAPlayableWavAndIds) {
  const CliRun r = run_cli("generate -m " + model_ + " -o " + dir_.file("out.wav") + " -n 800 --seed 3 --ids-out " +
                        dir_.file("ids.txt"),
                    dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_audio(dir_.file("out.wav"), 16000).size(), 800u);
  const auto ids = read_ids(dir_.file("ids.txt"), 64);
  EXPECT_EQ(ids.size(), 800u);
  // Same seed, same ids, for both methods.
  ASSERT_EQ(run_cli("generate -m " + model_ + " -o " + dir_.file("naive.wav") +
                    " -n 800 --seed 3 --method naive --ids-out " + dir_.file("naive.txt"),
                dir_).exit_code, 0);
  EXPECT_EQ(read_ids(dir_.file("naive.txt"), 64), ids);
}

TEST_F(Cli, CompareReportsTheFrechetDistanceAndStatistics) {
  std::vector<float> tone(16000), other(16000);
  for (size_t i = 0; i < tone.size(); ++i) {
    tone[i] = 0.5f * std::sin(0.1f * float(i));
    other[i] = 0.5f * std::sin(0.13f * float(i));
  }
  write_wav(dir_.file("a.wav"), tone, 16000);
  write_wav(dir_.file("b.wav"), other, 16000);
  const CliRun r = run_cli("compare " + dir_.file("a.wav") + " --ref " + dir_.file("b.wav") +
                               " --json " + dir_.file("q.json"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("log-mel Frechet distance"), std::string::npos) << r.out;
  const auto json = testing::read_bytes(dir_.file("q.json"));
  EXPECT_NE(std::string(json.begin(), json.end()).find("\"voiced_fraction\": 1.0"), std::string::npos);
  expect_failure("compare " + dir_.file("a.wav") + " --ref " + dir_.file("missing.wav"), "missing.wav");
  expect_failure("compare " + dir_.file("a.wav") + " --ref " + dir_.file("a.wav") + " --mels 0", "mel");
}

TEST_F(Cli, EvalPrintsNllAndWritesLogits) {
  write_ids(dir_.file("ids.txt"), std::vector<int>{1, 5, 9, 33, 2, 7});
  const CliRun r = run_cli("eval -m " + model_ + " --ids " + dir_.file("ids.txt") + " --logits-out " + dir_.file("l.npy"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bits/sample"), std::string::npos);
  std::vector<int64_t> shape;
  read_npy(dir_.file("l.npy"), &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{5, 64}));
}

TEST_F(Cli, InfoDescribesTheModel) {
  const CliRun r = run_cli("info " + model_, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("receptive field  31 samples"), std::string::npos) << r.out;
}

TEST_F(Cli, BadInputGetsOneClearLine) {
  const std::string out = " -o " + dir_.file("x.wav");
  expect_failure("generate -m " + dir_.file("missing.fwm") + out + " -n 10", "cannot open model file");
  testing::write_bytes(dir_.file("junk.fwm"), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  expect_failure("generate -m " + dir_.file("junk.fwm") + out + " -n 10", "header length");
  expect_failure("generate -m " + model_ + out + " -n -5", "--samples");
  expect_failure("generate -m " + model_ + out + " --temperature -1", "temperature");
  expect_failure("generate -m " + model_ + out + " -n 10 --method turbo", "method");
  expect_failure("generate -m " + model_ + out, "give the length");
  expect_failure("generate -m " + model_ + out + " -n 10 --speaker 2", "no speakers");
  testing::write_bytes(dir_.file("bad.wav"), {'n', 'o', 't', 'a', 'w', 'a', 'v', 'e'});
  expect_failure("generate -m " + model_ + out + " -n 10 --prime " + dir_.file("bad.wav"), "bad.wav");
  expect_failure("eval -m " + model_ + " --wav " + dir_.file("bad.wav"), "bad.wav");
  expect_failure("eval -m " + model_, "--wav");
  expect_failure("frobnicate", "unknown command 'frobnicate'");
  // A failed run leaves no output file behind.
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.wav")));
}

TEST_F(Cli, QuantizesAndMeasuresFidelity) {
  ASSERT_EQ(run_cli("generate -m " + model_ + " -o " + dir_.file("calib.wav") + " -n 600 -q", dir_).exit_code, 0);
  const CliRun q = run_cli("quantize " + model_ + " -o " + dir_.file("q.fwm") + " --scheme int8-static --calib " +
                               dir_.file("calib.wav") + " --calib-method cosine",
                           dir_);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("smaller"), std::string::npos) << q.out;
  const CliRun info = run_cli("info " + dir_.file("q.fwm"), dir_);
  EXPECT_NE(info.out.find("scheme int8-static"), std::string::npos) << info.out;
  const CliRun e = run_cli("eval -m " + dir_.file("q.fwm") + " --ref " + model_ + " --dir " + dir_.path().string() +
                               " --json " + dir_.file("f.json") + " --csv " + dir_.file("f.csv"),
                           dir_);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("top-1 agreement"), std::string::npos) << e.out;
  EXPECT_TRUE(std::filesystem::exists(dir_.file("f.json")));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("f.csv")));
  ASSERT_EQ(run_cli("generate -m " + dir_.file("q.fwm") + " -o " + dir_.file("q.wav") + " -n 300 -q", dir_).exit_code, 0);
}

TEST_F(Cli, QuantizesToABudgetAndReportsEveryLayer) {
  ASSERT_EQ(run_cli("generate -m " + model_ + " -o " + dir_.file("calib.wav") + " -n 1200 -q", dir_).exit_code, 0);
  const std::string calib = " --calib " + dir_.file("calib.wav");
  // Halfway between the uniform 3- and 4-bit sizes of this model.
  const double budget = (uniform_file_bytes(Model::load(model_), 3, 32) + uniform_file_bytes(Model::load(model_), 4, 32)) /
                        2.0 / 1048576.0;
  for (const std::string allocator : {"greedy-kl", "myqasr"}) {
    const CliRun q = run_cli("quantize " + model_ + " -o " + dir_.file("b.fwm") + calib + " --budget-mb " +
                                 std::to_string(budget) + " --allocator " + allocator + " --report-csv " + dir_.file("r.csv"),
                             dir_);
    ASSERT_EQ(q.exit_code, 0) << q.err;
    EXPECT_LE(std::filesystem::file_size(dir_.file("b.fwm")), uint64_t(budget * 1048576.0)) << allocator;
    EXPECT_NE(q.out.find("layer 0 filter+gate"), std::string::npos) << q.out;
    const auto bytes = testing::read_bytes(dir_.file("r.csv"));
    const std::string csv(bytes.begin(), bytes.end());
    EXPECT_EQ(csv.rfind("unit,tensors,parameters,sensitivity,bits,bytes\n", 0), 0u) << csv;
    EXPECT_NE(csv.find("\ntotal,file,"), std::string::npos) << csv;
    // The report's sensitivities reproduce the allocation without measuring again.
    const CliRun again = run_cli("quantize " + model_ + " -o " + dir_.file("b2.fwm") + calib + " --budget-mb " +
                                     std::to_string(budget) + " --allocator " + allocator + " --sensitivity-from " +
                                     dir_.file("r.csv"),
                                 dir_);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(testing::read_bytes(dir_.file("b2.fwm")), testing::read_bytes(dir_.file("b.fwm"))) << allocator;
  }
  expect_failure("quantize " + model_ + " -o " + dir_.file("c.fwm") + calib + " --budget-mb 0.0001",
                 "below the smallest model this can make");
  expect_failure("quantize " + model_ + " -o " + dir_.file("c.fwm") + calib + " --budget-mb 1 --allocator vibes",
                 "unknown allocator");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("c.fwm")));
}

TEST_F(Cli, QuantizeRejectsBadRequests) {
  const std::string out = " -o " + dir_.file("q.fwm");
  expect_failure("quantize " + model_ + out + " --scheme int9", "unknown scheme 'int9'");
  expect_failure("quantize " + model_ + out + " --layer-scheme start=int4-static", "takes no static scheme");
  expect_failure("quantize " + model_ + out + " --budget-mb 1", "--calib is needed");
  expect_failure("quantize " + model_ + out + " --scheme int8-static", "calibration audio");
  expect_failure("quantize " + model_ + out + " --scheme int8-static --calib " + dir_.file("nothing"), "does not exist");
  expect_failure("quantize " + model_ + out + " --scheme int4 --group-size 12", "group size");
  expect_failure("quantize " + model_ + out + " --layer-scheme 2to3=int4", "not a layer");
  expect_failure("quantize " + model_ + out + " --layer-scheme 99=int4", "does not exist");
  ASSERT_EQ(run_cli("quantize " + model_ + out, dir_).exit_code, 0);
  expect_failure("quantize " + dir_.file("q.fwm") + " -o " + dir_.file("qq.fwm"), "already quantized");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("qq.fwm")));
}

TEST_F(Cli, OutputIsReplacedAtomically) {
  // Writing into a directory that does not exist fails cleanly and leaves nothing.
  expect_failure("generate -m " + model_ + " -o " + dir_.file("no/such/dir/x.wav") + " -n 10", "cannot write");
}

TEST_F(Cli, EveryBadFlagGetsOneLineAndExitCode1) {
  const std::string gen = "generate -m " + model_ + " -o " + dir_.file("x.wav");
  expect_failure(gen + " -n -1", "--samples");
  expect_failure(gen + " -n 0", "--samples");
  expect_failure(gen + " -n 4294967296", "--samples");  // more than a WAV holds: refused, not reserved
  expect_failure(gen + " -n 1.5", "--samples");
  expect_failure(gen + " --seconds 1e30", "--seconds");
  expect_failure(gen + " --temperature -1 -n 5", "--temperature");
  expect_failure(gen + " --temperature inf -n 5", "--temperature");
  expect_failure(gen + " --temperature nan -n 5", "temperature");
  expect_failure(gen + " --speaker -1 -n 5", "--speaker");
  // Seeds are refused, not saturated to 2^64-1.
  expect_failure(gen + " --seed -1 -n 5", "--seed '-1'");
  expect_failure(gen + " --seed 18446744073709551616 -n 5", "--seed");
  expect_failure(gen + " --seed 1e23 -n 5", "--seed '1e23'");
  expect_failure("init -o " + dir_.file("i.fwm") + " --seed -1", "--seed");
  expect_failure("eval -m " + model_ + " --ids x --threads 100000", "--threads");
  expect_failure("quantize " + model_ + " -o " + dir_.file("q.fwm") + " --calib-seconds 0", "--calib-seconds");
  expect_failure(gen + " -n 5 --no-such-flag", "no-such-flag");
  expect_failure("info " + dir_.path().string(), "is a directory");
  ASSERT_EQ(::mkfifo(dir_.file("fifo").c_str(), 0600), 0);  // no writer: must not block
  expect_failure("init -o " + dir_.file("i.fwm") + " --config " + dir_.file("fifo"), "not a regular file");
  expect_failure("generate -m " + model_ + " -o " + dir_.file("x.wav") + " -n 5 --prime " + dir_.file("fifo"), "not a regular file");
  testing::write_bytes(dir_.file("c.json"), {'{', '"', 'b', 'l', 'o', 'c', 'k', 's', '"', ':', '[', ']', '}'});
  expect_failure("init -o " + dir_.file("i.fwm") + " --config " + dir_.file("c.json"), "c.json': config: blocks must be an integer");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.wav")));
  // The largest seed works, and --help still prints and succeeds.
  EXPECT_EQ(run_cli(gen + " -n 5 -q --seed 18446744073709551615", dir_).exit_code, 0);
  EXPECT_EQ(run_cli("generate --help", dir_).exit_code, 0);
}

TEST_F(Cli, AFailedIdsOutLeavesNoWav) {
  expect_failure("generate -m " + model_ + " -o " + dir_.file("x.wav") + " -n 50 --ids-out " +
                     dir_.file("missing/ids.txt"),
                 "cannot write");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.wav")));
  testing::write_bytes(dir_.file("x.wav"), {1});
  expect_failure("generate -m " + model_ + " -o " + dir_.file("x.wav") + " -n 50 --ids-out /dev/null", "refusing");
  EXPECT_EQ(testing::read_bytes(dir_.file("x.wav")), std::vector<uint8_t>{1});  // untouched
}

TEST_F(Cli, OutputsRefuseDevicesAndLinks) {
  expect_failure("generate -m " + model_ + " -o /dev/null -n 5", "refusing to replace");
  std::filesystem::create_symlink(model_, dir_.file("link.wav"));
  expect_failure("generate -m " + model_ + " -o " + dir_.file("link.wav") + " -n 5", "symbolic link");
  expect_failure("init -o /dev/null", "refusing to replace");
  EXPECT_TRUE(std::filesystem::is_symlink(dir_.file("link.wav")));
}

TEST_F(Cli, MemoryLimitRefusesInOneLineAndCanBeRaised) {
  write_ids(dir_.file("ids.txt"), std::vector<int>{1, 5, 9, 33, 2, 7});
  expect_failure("eval -m " + model_ + " --ids " + dir_.file("ids.txt") + " --max-memory-mb 0.01", "memory limit");
  expect_failure("generate -m " + model_ + " -o " + dir_.file("x.wav") + " -n 5 --max-memory-mb 0.01", "memory limit");
  EXPECT_EQ(run_cli("eval -m " + model_ + " --ids " + dir_.file("ids.txt") + " --max-memory-mb 100000", dir_).exit_code, 0);
}

TEST_F(Cli, InterruptedGenerationLeavesNothing) {
  // Start a long generation, wait until its temporary exists, interrupt it.
  const std::string command = std::string(FASTWAVE_BINARY) + " generate -q -m " + model_ + " -o " +
                              dir_.file("long.wav") + " -n 100000000 2>/dev/null & echo $!";
  FILE* pipe = ::popen(command.c_str(), "r");
  int pid = 0;
  ASSERT_EQ(std::fscanf(pipe, "%d", &pid), 1);
  ::pclose(pipe);
  auto temporaries = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) n += e.path().filename().string().starts_with(".long.wav.");
    return n;
  };
  while (temporaries() == 0 && ::kill(pid, 0) == 0) ::usleep(10000);
  ASSERT_EQ(::kill(pid, 0), 0) << "generate ended before it could be interrupted";
  ::kill(pid, SIGINT);
  while (::kill(pid, 0) == 0) ::usleep(10000);
  EXPECT_EQ(temporaries(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("long.wav")));
}

}  // namespace
}  // namespace fastwave
