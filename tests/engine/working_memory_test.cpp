// The cost limit: working memory computed from the config, and models over the limit
// refused before anything is allocated.
#include <gtest/gtest.h>

#include "../test_util.h"

namespace fastwave {
namespace {

// Restores the process-wide limit when a test ends.
struct LimitGuard {
  uint64_t saved = memory_limit();
  ~LimitGuard() { set_memory_limit(saved); }
};

TEST(WorkingMemory, TheDefaultModelIsCheap) {
  const WorkingMemory m = working_memory(ModelConfig{});
  EXPECT_GT(m.packed_weights, 2'500'000u);  // 2.65 MB of f32 weights
  EXPECT_LT(m.fast_generation, 4'000'000u);
  EXPECT_LT(m.evaluation_per_thread, 200'000'000u);
  EXPECT_EQ(m.evaluation_chunk, 16384);
}

TEST(WorkingMemory, AbsurdButValidConfigsAreRefused) {
  // The 549 KB model: one block of 16 layers, kernel size 16, 256 residual
  // channels: about 1 GB of ring buffers for 50 samples. With 4096 residual channels, 16 GB.
  ModelConfig c;
  c.blocks = 1;
  c.layers_per_block = 16;
  c.kernel_size = 16;
  c.residual_channels = 256;
  EXPECT_GT(working_memory(c).fast_generation, 900'000'000u);
  c.residual_channels = 4096;
  EXPECT_GT(working_memory(c).fast_generation, 15'000'000'000u);
  EXPECT_THROW(check_memory(working_memory(c).fast_generation, "generation"), Error);
  // The largest config validate() allows: about 1 TB of ring buffers, computed without overflow.
  c.blocks = 64;
  c.dilation_channels = c.skip_channels = c.end_channels = 4096;
  c.classes = 65536;
  c.validate();
  EXPECT_GT(working_memory(c).fast_generation, 1'000'000'000'000u);
  EXPECT_THROW(check_memory(working_memory(c).naive_generation, "generation"), Error);
}

TEST(WorkingMemory, EvaluationChunksShrinkForManyClasses) {
  // 65,536 classes used to need 4.1 GB to evaluate one second: the chunk now adapts.
  ModelConfig c;
  c.classes = 65536;
  const WorkingMemory m = working_memory(c);
  EXPECT_LT(m.evaluation_chunk, 16384);
  EXPECT_LT(m.evaluation_per_thread, 300'000'000u);
}

TEST(WorkingMemory, GeneratorsAndEvaluationCheckTheLimit) {
  LimitGuard guard;
  const Model model = Model::random(testing::small_config(), 1);
  set_memory_limit(1000);  // bytes
  try {
    make_generator(model, Method::kFast);
    ADD_FAILURE() << "generator built over the limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over the memory limit"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_THROW(make_generator(model, Method::kNaive), Error);
  EXPECT_THROW(evaluate(model, std::vector<int>{1, 2, 3}), Error);
  // A short sequence uses one worker however many threads are offered: not refused.
  set_memory_limit(working_memory(model.config()).packed_weights + working_memory(model.config()).evaluation_per_thread);
  EXPECT_NO_THROW(evaluate(model, std::vector<int>{1, 2, 3}, {}, 256));
  set_memory_limit(0);  // no limit
  EXPECT_NO_THROW(make_generator(model, Method::kFast));
}

}  // namespace
}  // namespace fastwave
