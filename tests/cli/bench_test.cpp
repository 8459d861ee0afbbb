// fastwave bench: the rows it writes and the points it measures, never how fast they ran.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_run.h"

namespace fastwave {
namespace {

using testing::CliRun;
using testing::run_cli;

// Short points: the tests check what is measured, not the numbers.
constexpr const char* kQuick = " --runs 2 --warmup 0 -n 40 --naive-samples 2";

class Bench : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.file("m.fwm");
    Model::random(testing::small_config(), 3).save(model_);
  }
  nlohmann::json run_json(const std::string& args) {
    const std::string json = dir_.file("rows.json");
    const CliRun r = run_cli("bench" + std::string(kQuick) + " " + args + " --json " + json, dir_);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    last_ = r;
    const auto bytes = testing::read_bytes(json);
    return nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  }
  void expect_failure(const std::string& args, const std::string& fragment) {
    testing::expect_one_line_failure(run_cli("bench -m " + model_ + kQuick + " " + args, dir_), args, fragment);
  }
  testing::TempDir dir_;
  std::string model_;
  CliRun last_;
};

TEST_F(Bench, JsonRowsHaveTheFields) {
  const auto rows = run_json("-m " + model_ + " --schemes f32,int8-dynamic --methods fast,naive");
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    for (const char* key : {"scheme", "isa", "method", "streams", "threads", "samples", "runs", "warmup",
                            "samples_per_second_mean", "samples_per_second_sd", "wall_seconds_mean", "wall_seconds_sd",
                            "us_per_sample", "real_time_factor", "times_real_time", "weight_bytes", "model_file_bytes",
                            "macs_per_sample", "weight_gb_per_second", "gmac_per_second", "cpu_use", "peak_rss_bytes",
                            "quantize_seconds"}) {
      EXPECT_TRUE(row.contains(key)) << key;
    }
    EXPECT_EQ(row["runs"], 2);
    EXPECT_GT(row["samples_per_second_mean"].get<double>(), 0);
    EXPECT_GT(row["weight_bytes"].get<double>(), 0);
    EXPECT_GT(row["model_file_bytes"].get<double>(), row["weight_bytes"].get<double>() / 2);
    EXPECT_EQ(row["samples"], row["method"] == "naive" ? 2 : 40);
  }
  EXPECT_EQ(rows[0]["scheme"], "f32");
  EXPECT_TRUE(rows[0]["quantize_seconds"].is_null());  // nothing was quantized
  EXPECT_EQ(rows[2]["scheme"], "int8-dynamic");
  EXPECT_GE(rows[2]["quantize_seconds"].get<double>(), 0);
  EXPECT_LT(rows[2]["weight_bytes"].get<double>(), rows[0]["weight_bytes"].get<double>());
  EXPECT_LT(rows[2]["model_file_bytes"].get<double>(), rows[0]["model_file_bytes"].get<double>());
  // The naive method recomputes the receptive field: more MACs per sample than fast.
  EXPECT_EQ(rows[0]["method"], "fast");
  EXPECT_GT(rows[1]["macs_per_sample"].get<double>(), rows[0]["macs_per_sample"].get<double>());
  // Progress on stderr, the table and the fast/naive ratio on stdout.
  EXPECT_NE(last_.err.find("bench [4/4]"), std::string::npos) << last_.err;
  EXPECT_NE(last_.out.find("fast / naive"), std::string::npos) << last_.out;
}

TEST_F(Bench, CsvAndMarkdownHoldOneLinePerRow) {
  const CliRun r = run_cli("bench -m " + model_ + kQuick + " --streams 1,2 --csv " + dir_.file("r.csv") +
                               " --markdown " + dir_.file("r.md"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = [&](const std::string& name) {
    const auto bytes = testing::read_bytes(dir_.file(name));
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  const auto csv = lines("r.csv");
  ASSERT_EQ(csv.size(), 3u);  // header and two rows
  EXPECT_EQ(csv[0].rfind("model,scheme,isa,method,", 0), 0u) << csv[0];
  const auto md = lines("r.md");
  ASSERT_EQ(md.size(), 4u);  // header, rule and two rows
  EXPECT_EQ(md[0].rfind("| scheme | isa | method |", 0), 0u) << md[0];
}

TEST_F(Bench, SweepLayersMeasuresOneRandomModelPerDepthBothMethods) {
  const auto rows = run_json("--sweep layers=2..4");
  ASSERT_EQ(rows.size(), 6u);  // fast and naive by default: the paper's experiment
  std::multiset<int> depths;
  std::multiset<std::string> methods;
  for (const auto& row : rows) {
    EXPECT_EQ(row["blocks"], 2);
    EXPECT_EQ(row["model"], "random");
    depths.insert(row["layers_per_block"].get<int>());
    methods.insert(row["method"].get<std::string>());
    EXPECT_EQ(row["receptive_field"], 2 * ((1 << row["layers_per_block"].get<int>()) - 1) + 1);
  }
  EXPECT_EQ(depths, (std::multiset<int>{2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(methods.count("naive"), 3u);
}

TEST_F(Bench, SweepsOfStreamsThreadsAndSamplesMakeTheGrid) {
  const auto rows = run_json("-m " + model_ + " --sweep streams=1,2,...,8 --sweep threads=1,2 --sweep samples=10,20");
  ASSERT_EQ(rows.size(), 16u);  // 4 stream counts (1, 2, 4, 8) x 2 thread counts x 2 lengths
  std::set<int> streams, threads;
  std::set<int64_t> samples;
  for (const auto& row : rows) {
    streams.insert(row["streams"].get<int>());
    threads.insert(row["threads"].get<int>());
    samples.insert(row["samples"].get<int64_t>());
  }
  EXPECT_EQ(streams, (std::set<int>{1, 2, 4, 8}));
  EXPECT_EQ(threads, (std::set<int>{1, 2}));
  EXPECT_EQ(samples, (std::set<int64_t>{10, 20}));
}

TEST_F(Bench, TheNaiveMethodRunsOneStreamOnOneThread) {
  const auto rows = run_json("-m " + model_ + " --methods fast,naive --streams 1,2 --threads 2");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1]["streams"], 2);
  EXPECT_EQ(rows[2]["method"], "naive");
  EXPECT_EQ(rows[2]["streams"], 1);
  EXPECT_EQ(rows[2]["threads"], 1);
}

TEST_F(Bench, AStoredQuantizedModelIsNamedByItsScheme) {
  QuantizeOptions options;
  options.scheme = Scheme::kInt4;
  quantize(Model::load(model_), options).save(dir_.file("q4.fwm"));
  options.layer_schemes = {{0, Scheme::kInt8Dynamic}};
  quantize(Model::load(model_), options).save(dir_.file("mixed.fwm"));
  EXPECT_EQ(run_json("-m " + dir_.file("q4.fwm"))[0]["scheme"], "int4");
  const auto mixed = run_json("-m " + dir_.file("mixed.fwm"));
  EXPECT_EQ(mixed[0]["scheme"], "mixed");
  EXPECT_EQ(mixed[0]["model"], "mixed.fwm");
}

TEST_F(Bench, BadSweepsAreOneLineErrors) {
  expect_failure("--sweep depth=1..3", "unknown name 'depth'");
  expect_failure("--sweep layers", "expected NAME=VALUES");
  expect_failure("--sweep layers=", "no values");
  expect_failure("--sweep layers=5..3", "runs backwards");
  expect_failure("--sweep layers=0..3", "outside 1..16");
  expect_failure("--sweep streams=1,x", "'x' is not an integer");
  expect_failure("--sweep streams=1,...,8", "needs two numbers");
  expect_failure("--sweep streams=1,2,4,...,60", "does not reach 60");
  expect_failure("--sweep streams=1,2,5,...,9", "no progression");
  expect_failure("--sweep samples=1..100000", "more than 1000 points");
  expect_failure("--sweep samples=1,2,...,99999999999", "too large");
  expect_failure("--sweep layers=2..3", "takes no -m");
  expect_failure("--methods turbo", "turbo");
}

}  // namespace
}  // namespace fastwave
