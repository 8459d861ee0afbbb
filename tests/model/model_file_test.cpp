// The model file: round trips, and a clear error for every kind of bad file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../test_util.h"

namespace fastwave {
namespace {

using testing::TempDir;

// Rewrites the JSON header of a saved file (keeping the data) for corruption tests.
std::vector<uint8_t> with_header(const std::vector<uint8_t>& file, const std::string& header) {
  uint64_t old_len = 0;
  for (int i = 7; i >= 0; --i) old_len = (old_len << 8) | file[i];
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), file.begin() + 8 + old_len, file.end());
  return out;
}

std::string header_of(const std::vector<uint8_t>& file) {
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | file[i];
  return std::string(file.begin() + 8, file.begin() + 8 + len);
}

void expect_load_error(const std::string& path, const std::string& fragment) {
  try {
    Model::load(path);
    ADD_FAILURE() << "loaded a bad file; expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "errors are one line";
  }
}

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::small_config();
    config_.bias = true;
    config_.speakers = 3;
    config_.global_channels = 5;
    path_ = dir_.file("model.fwm");
    Model::random(config_, 42).save(path_);
    bytes_ = testing::read_bytes(path_);
  }
  void corrupt(const std::vector<uint8_t>& bytes) { testing::write_bytes(bad_ = dir_.file("bad.fwm"), bytes); }

  TempDir dir_;
  ModelConfig config_;
  std::string path_, bad_;
  std::vector<uint8_t> bytes_;
};

TEST_F(ModelFile, RoundTripsExactly) {
  const Model original = Model::random(config_, 42);
  const Model loaded = Model::load(path_);
  EXPECT_EQ(loaded.config().to_json(), config_.to_json());
  ASSERT_EQ(loaded.tensors().size(), original.tensors().size());
  for (const auto& [name, t] : original.tensors()) {
    EXPECT_EQ(loaded.tensor(name).shape, t.shape) << name;
    EXPECT_EQ(loaded.tensor(name).bytes, t.bytes) << name;
  }
}

TEST_F(ModelFile, DataSectionIsAlignedForMmap) {
  const std::string header = header_of(bytes_);
  EXPECT_EQ((8 + header.size()) % 64, 0u);
  EXPECT_NE(header.find("\"format\":\"fastwave\""), std::string::npos);
}

TEST_F(ModelFile, RejectsMissingFile) { expect_load_error(dir_.file("nope.fwm"), "cannot open"); }

TEST_F(ModelFile, RejectsEveryTruncation) {
  for (size_t keep : {size_t(0), size_t(5), size_t(8), size_t(20), bytes_.size() / 2, bytes_.size() - 1}) {
    corrupt({bytes_.begin(), bytes_.begin() + keep});
    EXPECT_THROW(Model::load(bad_), Error) << "kept " << keep << " bytes";
  }
  corrupt({bytes_.begin(), bytes_.end() - 4});
  expect_load_error(bad_, "outside");
}

TEST_F(ModelFile, RejectsAbsurdHeaderLength) {
  auto bytes = bytes_;
  std::memset(bytes.data(), 0xFF, 8);
  corrupt(bytes);
  expect_load_error(bad_, "header length");
}

TEST_F(ModelFile, RejectsGarbageHeader) {
  std::string header = header_of(bytes_);
  header[0] = '[';
  corrupt(with_header(bytes_, header));
  expect_load_error(bad_, "not a JSON object");
}

TEST_F(ModelFile, RejectsWrongFormatAndVersion) {
  std::string header = header_of(bytes_);
  std::string v2 = header;
  v2.replace(v2.find("\"format_version\":\"1\""), 20, "\"format_version\":\"9\"");
  corrupt(with_header(bytes_, v2));
  expect_load_error(bad_, "format_version \"9\"");
  std::string other = header;
  other.replace(other.find("\"format\":\"fastwave\""), 19, "\"format\":\"pytorch!\"");
  corrupt(with_header(bytes_, other));
  expect_load_error(bad_, "format");
}

TEST_F(ModelFile, RejectsConfigInconsistentWithTensors) {
  std::string header = header_of(bytes_);
  const auto at = header.find("\\\"skip_channels\\\":40");
  ASSERT_NE(at, std::string::npos) << header;
  header.replace(at, 20, "\\\"skip_channels\\\":41");
  corrupt(with_header(bytes_, header));
  expect_load_error(bad_, "shape");
}

TEST_F(ModelFile, RejectsUnknownConfigKey) {
  std::string header = header_of(bytes_);
  header.replace(header.find("\\\"blocks\\\""), 10, "\\\"blokcs\\\"");
  corrupt(with_header(bytes_, header));
  expect_load_error(bad_, "unknown key 'blokcs'");
}

TEST_F(ModelFile, RejectsOverlappingAndMisplacedOffsets) {
  std::string header = header_of(bytes_);
  // start_conv.weight is first at [0, N); pointing the next tensor at 0 makes them overlap.
  const auto name = header.find("\"start_conv.bias\"");
  ASSERT_NE(name, std::string::npos);
  const auto offsets = header.find("data_offsets\":[", name) + 15;
  const auto close = header.find(']', offsets);
  const std::string original = header.substr(offsets, close - offsets);
  const auto comma = original.find(',');
  const long begin = std::stol(original.substr(0, comma)), end = std::stol(original.substr(comma + 1));
  header.replace(offsets, close - offsets, "0," + std::to_string(end - begin));
  corrupt(with_header(bytes_, header));
  expect_load_error(bad_, "overlaps");
}

TEST_F(ModelFile, RejectsNaNWeights) {
  auto bytes = bytes_;
  const size_t data = 8 + header_of(bytes_).size();
  const float nan = std::nanf("");
  std::memcpy(bytes.data() + data + 4 * 10, &nan, 4);
  corrupt(bytes);
  expect_load_error(bad_, "NaN");
}

TEST_F(ModelFile, RejectsWrongDtype) {
  std::string header = header_of(bytes_);
  header.replace(header.find("\"F32\""), 5, "\"F64\"");
  corrupt(with_header(bytes_, header));
  expect_load_error(bad_, "unsupported dtype 'F64'");
}

// Only fastwave::Error leaves the loader, and it names the file.
TEST_F(ModelFile, JsonTypeErrorsBecomeErrorsNamingTheFile) {
  const std::string header = header_of(bytes_);
  for (const char* replacement : {"\"format_version\":1", "\"format_version\":null", "\"format_version\":[]"}) {
    std::string h = header;
    h.replace(h.find("\"format_version\":\"1\""), 20, replacement);
    corrupt(with_header(bytes_, h));
    expect_load_error(bad_, "'" + bad_ + "': format_version");
  }
  std::string h = header;
  h.replace(h.find("\"format\":\"fastwave\""), 19, "\"format\":7");
  corrupt(with_header(bytes_, h));
  expect_load_error(bad_, "'" + bad_ + "': __metadata__.format");
}

TEST_F(ModelFile, ParsesFromMemoryWithTheSameChecks) {
  EXPECT_EQ(Model::parse(bytes_, "in-memory").config().to_json(), config_.to_json());
  auto bytes = bytes_;
  bytes.resize(bytes.size() / 2);
  try {
    Model::parse(bytes, "in-memory");
    ADD_FAILURE() << "parsed a truncated model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'in-memory'"), std::string::npos) << e.what();
  }
}

class QuantizedModelFile : public ModelFile {
 protected:
  void SetUp() override {
    ModelFile::SetUp();
    QuantizeOptions options;
    options.scheme = Scheme::kInt4;
    options.group_size = 8;
    quantize(Model::load(path_), options).save(path_);
    bytes_ = testing::read_bytes(path_);
  }
};

TEST_F(QuantizedModelFile, QuantizedTensorsNeedFormatVersion2) {
  ASSERT_NO_THROW(Model::load(path_));
  std::string h = header_of(bytes_);
  h.replace(h.find("\"format_version\":\"2\""), 20, "\"format_version\":\"1\"");
  corrupt(with_header(bytes_, h));
  expect_load_error(bad_, "format_version 1 holds float tensors only");
}

TEST_F(QuantizedModelFile, GroupSizeBeyond32BitsIsNotTruncated) {
  std::string h = header_of(bytes_);
  // 2^32 + 8 would read as 8 through a 32-bit conversion, and load.
  const std::string from = "\\\"group_size\\\":8", to = "\\\"group_size\\\":4294967304";
  ASSERT_NE(h.find(from), std::string::npos) << h.substr(0, 300);
  for (size_t at = h.find(from); at != std::string::npos; at = h.find(from, at + to.size())) h.replace(at, from.size(), to);
  corrupt(with_header(bytes_, h));
  expect_load_error(bad_, "group_size 4294967304");
}

TEST(ModelConstruction, RejectsMissingAndExtraTensors) {
  const ModelConfig c = testing::small_config();
  auto tensors = Model::random(c, 1).tensors();
  auto missing = tensors;
  missing.erase("end_conv_2.bias");
  EXPECT_THROW(Model(c, missing), Error);
  auto extra = tensors;
  extra.emplace("mystery.weight", Tensor::from_floats({1}, std::vector<float>{1.0f}));
  EXPECT_THROW(Model(c, extra), Error);
}

TEST(ModelConfigTest, ValidatesRanges) {
  ModelConfig c;
  c.kernel_size = 1;
  EXPECT_THROW(c.validate(), Error);
  c = ModelConfig{};
  c.speakers = 4;  // speakers without an embedding width
  EXPECT_THROW(c.validate(), Error);
  EXPECT_EQ(ModelConfig{}.receptive_field(), 4093);
  EXPECT_THROW(ModelConfig::from_json("{\"blocks\": \"four\"}"), Error);
  EXPECT_THROW(ModelConfig::from_json("not json"), Error);
}

}  // namespace
}  // namespace fastwave
