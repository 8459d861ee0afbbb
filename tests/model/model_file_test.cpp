// The model file: round trips, and a clear error for every kind of bad file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

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

// Logits of a few steps of the fast generator: what a network built from `model` computes.
std::vector<float> some_logits(const Model& model) {
  Conditioning conditioning;
  if (model.config().has_global()) conditioning.speaker = 1;
  auto generator = make_generator(model, Method::kFast, conditioning);
  std::vector<float> logits;
  for (int id : {0, 5, 63, 17, 17}) {
    const auto step = generator->push(id);
    logits.insert(logits.end(), step.begin(), step.end());
  }
  return logits;
}

TEST_F(ModelFile, LoadedEqualsParsedAndSaved) {
  const Model saved = Model::random(config_, 42);
  const Model loaded = Model::load(path_);
  const Model parsed = Model::parse(bytes_, "in-memory");
  EXPECT_EQ(loaded.tensors(), saved.tensors());
  EXPECT_EQ(parsed.tensors(), saved.tensors());
  EXPECT_EQ(loaded.serialize(), bytes_);
  EXPECT_EQ(some_logits(loaded), some_logits(saved));
}

// Read once: every tensor of a loaded model is a view into the one file buffer.
TEST_F(ModelFile, TensorsViewTheFileBufferInPlace) {
  const auto buffer = std::make_shared<const std::vector<uint8_t>>(bytes_);
  const Model model = Model::parse(buffer, "in-memory");
  for (const auto& [name, t] : model.tensors()) {
    EXPECT_TRUE(t.bytes.is_view()) << name;
    EXPECT_GE(t.bytes.data(), buffer->data()) << name;
    EXPECT_LE(t.bytes.data() + t.bytes.size(), buffer->data() + buffer->size()) << name;
  }
}

TEST_F(ModelFile, ModelOutlivesTheBuffersOtherOwners) {
  auto buffer = std::make_shared<const std::vector<uint8_t>>(bytes_);
  const std::weak_ptr<const std::vector<uint8_t>> watch = buffer;
  std::optional<Model> model = Model::parse(std::move(buffer), "in-memory");
  EXPECT_FALSE(watch.expired()) << "the model keeps the buffer it views";
  EXPECT_EQ(model->tensors(), Model::random(config_, 42).tensors());
  EXPECT_EQ(some_logits(*model), some_logits(Model::random(config_, 42)));
  const Tensor copy = model->tensor("end_conv_2.weight");
  model.reset();
  EXPECT_FALSE(watch.expired()) << "a copied tensor shares the buffer";
  EXPECT_EQ(copy, Model::random(config_, 42).tensor("end_conv_2.weight"));
}

TEST_F(ModelFile, WritingACopiedTensorLeavesTheModelAlone) {
  const Model model = Model::load(path_);
  Tensor copy = model.tensor("end_conv_2.weight");
  copy.f32()[0] += 1.0f;
  EXPECT_FALSE(copy.bytes.is_view());
  EXPECT_NE(copy, model.tensor("end_conv_2.weight"));
  EXPECT_EQ(model.tensors(), Model::random(config_, 42).tensors());
}

// A foreign file whose data section does not start on a multiple of 4 (safetensors only
// pads the header to 8; here to an odd length): its tensors are copied, not viewed
// misaligned, and the model is the same.
std::shared_ptr<const std::vector<uint8_t>> with_odd_data_offset(const std::vector<uint8_t>& file) {
  std::string header = header_of(file);
  header.erase(header.find_last_not_of(' ') + 1);
  while ((8 + header.size()) % 4 != 1) header += ' ';
  return std::make_shared<const std::vector<uint8_t>>(with_header(file, header));
}

TEST_F(ModelFile, MisalignedDataSectionStillLoads) {
  const Model model = Model::parse(with_odd_data_offset(bytes_), "misaligned");
  const Model saved = Model::random(config_, 42);
  EXPECT_EQ(model.tensors(), saved.tensors());
  for (const auto& [name, t] : model.tensors()) {
    EXPECT_FALSE(t.bytes.is_view()) << name << " would be misaligned in place";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.bytes.data()) % alignof(float), 0u) << name;
  }
  EXPECT_EQ(some_logits(model), some_logits(saved));
  EXPECT_EQ(model.serialize(), bytes_) << "saved again, the file is aligned";
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

TEST_F(QuantizedModelFile, MisalignedDataSectionStillLoads) {
  const Model aligned = Model::load(path_);
  const Model model = Model::parse(with_odd_data_offset(bytes_), "misaligned");
  EXPECT_EQ(model.tensors(), aligned.tensors());
  for (const auto& [name, t] : model.tensors()) {
    // Single bytes are never misaligned: the packed codes stay in place.
    EXPECT_EQ(t.bytes.is_view(), t.dtype == DType::U8 || t.dtype == DType::I8) << name;
  }
  EXPECT_EQ(some_logits(model), some_logits(aligned));
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
