#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <string>
#include <nlohmann/json.hpp>

#include "fastwave/audio.h"
#include "fastwave/error.h"
#include "fastwave/model.h"
#include "io/output_file.h"
#include "kernels/cpu_features.h"
#include "train/dataset.h"
#include "train/net.h"

namespace fastwave::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kLn2 = 0.69314718055994530942;

// Ctrl-C stops training cleanly after the current step (validate, checkpoint, export);
// a second one kills as usual.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}
struct InterruptGuard {
  InterruptGuard() : previous(std::signal(SIGINT, on_interrupt)) { g_interrupted = 0; }
  ~InterruptGuard() { std::signal(SIGINT, previous); }
  void (*previous)(int);
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void set_threads(int threads) {
  if (threads < 1) throw Error("--threads must be at least 1");
  torch::set_num_threads(threads);
  // Debian's libtorch calls OpenBLAS (pthread build) for matmuls, which otherwise starts
  // one thread per core whatever torch is told.
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    f(threads);
  }
}

// OpenBLAS runs its AVX2 kernels on an AVX-512 CPU when told to (OPENBLAS_CORETYPE=Haswell,
// as this project's build machines set it) or when it does not know the CPU; its AVX-512
// kernels ran the default model's training step 1.16x-1.2x faster (docs/training.md). The
// library reads the variable once, at load: say so.
void suggest_blas_core() {
  if (!kernels::cpu_features().avx512_core) return;
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!core_name) return;
  const std::string core = core_name();
  if (core == "Haswell" || core == "Zen") {
    std::fprintf(stderr, "train: OpenBLAS runs its %s (AVX2) kernels on this AVX-512 CPU; "
                 "OPENBLAS_CORETYPE=SkylakeX trains ~1.2x faster (docs/training.md)\n", core.c_str());
  }
}

// A training step allocates and frees the same few-MB tensors again and again. glibc maps
// each of them fresh (its mmap threshold) and returns the memory after, so every step
// faults and zeroes every page anew: in this VM a quarter to a third of a step's time went
// to page faults (perf). Keeping freed memory in the heap for reuse ran the default model's
// step 1.4x to 1.7x faster (`fastwave train --benchmark-steps 8 --batch 2 --output-length
// 8192 --threads 1`, one core: 8,295 and 7,912 against 11,699 and 13,340 targets/s) and
// the vocoder's 2.7x (2,685 -> 7,284 targets/s, the same run resumed). Peak memory is
// unchanged: the heap holds what one step used at most.
void keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: tensors below it come from the heap
  mallopt(M_TRIM_THRESHOLD, INT32_MAX);  // and freed memory is not handed back
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

void check_options(const TrainOptions& o) {
  if (o.steps < 1) throw Error("--steps must be at least 1");
  if (o.batch < 1) throw Error("--batch must be at least 1");
  if (o.output_length < 1) throw Error("--output-length must be at least 1");
  if (!(o.lr > 0)) throw Error("--lr must be positive");
  if (o.valid_every < 1) throw Error("--valid-every must be at least 1");
  if (o.max_minutes < 0) throw Error("--max-minutes must not be negative");
  if (!(o.onset_weight > 0)) throw Error("--onset-weight must be positive");
  if (o.input_noise < 0) throw Error("--input-noise must not be negative");
  if (!(o.noisy_crop_fraction >= 0 && o.noisy_crop_fraction <= 1)) {
    throw Error("--noisy-crop-fraction must be in [0, 1]");
  }
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw Error("--ema must be in [0, 1)");
}

// What training and its benchmark do first: check the options, set the threads, keep freed memory.
void prepare(const TrainOptions& o) {
  check_options(o);
  set_threads(o.threads);
  keep_freed_memory();
}

// Linear warm-up avoids Adam's large first steps; cosine decay settles the weights.
double learning_rate(const TrainOptions& o, int64_t step) {
  if (step <= o.warmup_steps) return o.lr * double(step) / double(std::max<int64_t>(1, o.warmup_steps));
  const double progress = double(step - o.warmup_steps) /
                          double(std::max<int64_t>(1, o.steps - o.warmup_steps));
  const double cosine = 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cosine);
}

// Mixed precision: the forward pass (and so its backward) runs the convs in bfloat16 while
// weights, Adam state and the loss stay float32.
class AutocastBf16 {
 public:
  explicit AutocastBf16(bool on) : on_(on) {
    if (!on_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~AutocastBf16() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

// One optimisation step on crops [B, receptive_field + L]; returns the plain NLL in bits.
// `where` locates each crop for its local features (empty without local conditioning);
// `weights` [B, L], if defined, weights the targets' NLL in the loss that is minimised.
// `inputs` are the crops the network reads (crops themselves, or perturbed copies) and
// `crops` the targets.
double train_step(Net& net, torch::optim::Adam& optimizer, const torch::Tensor& inputs,
                  const torch::Tensor& crops, const torch::Tensor& speakers, double lr,
                  double clip_norm, bool bf16, const std::vector<CropSampler::Where>& where = {},
                  const torch::Tensor& weights = {}) {
  const int64_t rf = net->config().receptive_field();
  const int64_t targets = crops.size(1) - rf;
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
  torch::Tensor logits;
  {
    AutocastBf16 autocast(bf16);
    torch::Tensor local;
    if (!where.empty()) {
      std::vector<torch::Tensor> rows;
      for (const auto& w : where) rows.push_back(crop_features(net, w.sequence->mel, w.start, crops.size(1) - 1));
      local = torch::cat(rows, 0);
    }
    logits = net->forward(inputs.narrow(1, 0, inputs.size(1) - 1), speakers, false, local).to(torch::kFloat32);
  }
  const auto nll = output_nll(net->config(), logits, crops.narrow(1, rf, targets));
  const auto loss = weights.defined() ? (nll * weights).sum() / weights.sum() : nll.mean();
  optimizer.zero_grad();
  loss.backward();
  torch::nn::utils::clip_grad_norm_(net->parameters(), clip_norm);
  optimizer.step();
  return (weights.defined() ? nll.mean() : loss).item<double>() / kLn2;
}

// NLL in bits per sample over ids 1..n-1 of every sequence, the positions `fastwave eval`
// scores. Chunks bound the memory: the first chunk of a sequence runs causally (zero
// padding, like the engine); later ones are preceded by receptive_field - 1 ids of context.
double validate(Net& net, const std::vector<Sequence>& sequences) {
  torch::NoGradGuard no_grad;
  const int64_t context = net->config().receptive_field() - 1;
  const int64_t chunk = std::max<int64_t>(16384, context + 1);
  double nats = 0;
  int64_t count = 0;
  for (const auto& seq : sequences) {
    const int64_t n = int64_t(seq.ids.size());
    std::vector<int64_t> values(seq.ids.begin(), seq.ids.end());
    const auto ids = torch::from_blob(values.data(), {1, n}, torch::kInt64);
    auto speaker = torch::full({1}, int64_t(seq.speaker), torch::kInt64);
    const ModelConfig& c = net->config();
    // Features of every sample, upsampled once for the whole sequence.
    const torch::Tensor local =
        c.has_local() ? crop_features(net, seq.mel, 0, int64_t(seq.mel.size()) / c.local_channels * c.local_hop)
                      : torch::Tensor();
    auto local_of = [&](int64_t from, int64_t count) {
      return local.defined() ? local.narrow(2, from, count) : torch::Tensor();
    };
    for (int64_t a = 0, b; a < n - 1; a = b) {
      b = std::min(a + chunk, n - 1);
      auto logits = a == 0 ? net->forward(ids.narrow(1, 0, b), speaker, /*causal=*/true, local_of(0, b))
                           : net->forward(ids.narrow(1, a - context, b - a + context), speaker, false,
                                          local_of(a - context, b - a + context));
      nats += output_nll(c, logits, ids.narrow(1, a + 1, b - a)).sum().item<double>();
      count += b - a;
    }
  }
  return nats / double(count) / kLn2;
}

// The exponential moving average of the weights that --ema validates and exports
// (r9y9/wavenet_vocoder keeps one with decay 0.9999): the weights of one step carry that
// step's crops; their average is what the last ~1 / (1 - decay) steps agree on.
void copy_parameters(Net& to, Net& from) {
  torch::NoGradGuard no_grad;
  auto dst = to->parameters();
  const auto src = from->parameters();
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
}

void update_average(Net& average, Net& net, double decay) {
  torch::NoGradGuard no_grad;
  auto dst = average->parameters();
  const auto src = net->parameters();
  for (size_t i = 0; i < dst.size(); ++i) dst[i].mul_(decay).add_(src[i], 1 - decay);
}

struct Checkpoint {
  int64_t step = 0;
  uint64_t seed = 0;
  double best_valid_bits = INFINITY;
};

// Everything needed to continue bit-exactly: weights, Adam moments and step counts, the
// step and the seed (batch k's crops come from an RNG seeded with (seed, k), so these
// two are the whole RNG state), plus the config to refuse resuming a different model.
// `average`, if not null, is the --ema weights.
void save_checkpoint(const fs::path& path, Net& net, torch::optim::Adam& optimizer,
                     const Checkpoint& c, Net* average) {
  torch::serialize::OutputArchive archive, model, adam, averaged;
  net->save(model);
  optimizer.save(adam);
  archive.write("model", model);
  if (average) {
    (*average)->save(averaged);
    archive.write("average", averaged);
  }
  archive.write("optimizer", adam);
  archive.write("step", c10::IValue(c.step));
  archive.write("seed", c10::IValue(int64_t(c.seed)));
  archive.write("best_valid_bits", c10::IValue(c.best_valid_bits));
  archive.write("config", c10::IValue(net->config().to_json()));
  // Through the one safe writer: an exclusive temporary, every write checked, then rename.
  io::OutputFile out(path.string());
  archive.save_to([&out](const void* data, size_t size) {
    out.write({static_cast<const uint8_t*>(data), size});
    return size;
  });
  out.commit();
}

// A checkpoint written without --ema starts `average` from the weights.
Checkpoint load_checkpoint(const fs::path& path, Net& net, torch::optim::Adam& optimizer,
                           Net* average) {
  torch::serialize::InputArchive archive, model, adam, averaged;
  try {
    archive.load_from(path.string());
  } catch (const c10::Error&) {
    throw Error("cannot read checkpoint " + path.string());
  }
  c10::IValue v;
  archive.read("config", v);
  if (v.toStringRef() != net->config().to_json()) {
    throw Error("checkpoint " + path.string() + " is for another model config: " +
                v.toStringRef());
  }
  archive.read("model", model);
  archive.read("optimizer", adam);
  net->load(model);
  optimizer.load(adam);
  if (average) {
    if (archive.try_read("average", averaged)) (*average)->load(averaged);
    else copy_parameters(*average, net);
  }
  Checkpoint c;
  archive.read("step", v);
  c.step = v.toInt();
  archive.read("seed", v);
  c.seed = uint64_t(v.toInt());
  archive.read("best_valid_bits", v);
  c.best_valid_bits = v.toDouble();
  return c;
}

std::string format_duration(double s) {
  char buf[32];
  const long t = long(s);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

fs::path sibling(const std::string& output, const std::string& suffix) {
  fs::path p(output);
  return p.parent_path() / (p.stem().string() + suffix);
}

struct Data {
  Model init;  // the --init-from model, if any
  ModelConfig config;
  std::vector<std::string> speakers;  // id -> name, with global conditioning
  std::vector<Sequence> train, valid;
};

// Reads the dataset and settles the config's speaker count.
Data load_data(const TrainOptions& options) {
  const auto rows = read_metadata(options.data_dir);
  Data d;
  d.config = options.config;
  if (!options.init_from.empty()) {
    d.init = Model::load(options.init_from);
    d.config = d.init.config();
  }
  if (options.preemphasis) d.config.preemphasis = *options.preemphasis;
  if (options.speakers_from_metadata && options.init_from.empty()) {
    d.speakers = speaker_names(rows);
    d.config.speakers = int(d.speakers.size());
    if (d.config.global_channels == 0) d.config.global_channels = 16;
  } else if (d.config.has_global()) {
    d.speakers = speaker_names(rows);
    if (int(d.speakers.size()) > d.config.speakers) {
      throw Error("the metadata names " + std::to_string(d.speakers.size()) +
                  " speakers but the config has " + std::to_string(d.config.speakers));
    }
  }
  d.config.validate();
  d.train = load_split(rows, "train", d.config, d.speakers, 0, options.threads);
  d.valid = load_split(rows, "valid", d.config, d.speakers, options.valid_seconds,
                       options.threads);
  return d;
}

double minutes(const std::vector<Sequence>& set, int sample_rate) {
  double n = 0;
  for (const auto& s : set) n += double(s.ids.size());
  return n / sample_rate / 60;
}

}  // namespace

TrainResult train(const TrainOptions& options) {
  prepare(options);
  if (options.output.empty()) throw Error("no output model file (-o)");
  const fs::path out_dir = fs::path(options.output).parent_path();
  if (!out_dir.empty() && !fs::is_directory(out_dir)) {
    throw Error("output directory does not exist: " + out_dir.string());
  }

  const Data data = load_data(options);
  const ModelConfig& config = data.config;
  const CropSampler sampler(data.train, config, options.output_length);
  if (!options.quiet) {
    suggest_blas_core();
    std::fprintf(stderr, "train: %zu files, %.1f min (%lld too short, skipped); valid: %zu files, "
                 "%.1f min; receptive field %d, crops %lld\n", data.train.size(),
                 minutes(data.train, config.sample_rate), (long long)sampler.skipped(),
                 data.valid.size(), minutes(data.valid, config.sample_rate),
                 config.receptive_field(), (long long)sampler.crop_length());
  }
  if (!data.speakers.empty()) {
    const std::string text = nlohmann::json{{"speakers", data.speakers}}.dump(2) + "\n";
    write_file_atomically(sibling(options.output, ".speakers.json").string(),
                          {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

  const fs::path ckpt_dir = options.checkpoint_dir.empty()
                                ? sibling(options.output, ".ckpt")
                                : fs::path(options.checkpoint_dir);
  const fs::path last = ckpt_dir / "last.pt";
  fs::create_directories(ckpt_dir);

  torch::manual_seed(options.seed);
  Net net(config);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(options.lr));
  // With --ema, validation and export see the averaged weights (`judged`), training the live ones.
  Net average{nullptr};
  if (options.ema_decay > 0) {
    average = Net(config);
    copy_parameters(average, net);
  }
  Net& judged = average ? average : net;
  Checkpoint state;
  state.seed = options.seed;
  if (options.resume) {
    if (!fs::exists(last)) throw Error("no checkpoint to resume in " + ckpt_dir.string());
    state = load_checkpoint(last, net, optimizer, average ? &average : nullptr);
    if (!options.quiet) std::fprintf(stderr, "resuming at step %lld\n", (long long)state.step);
  } else if (fs::exists(last)) {
    throw Error(last.string() + " exists; pass --resume or another --checkpoint-dir");
  } else if (!options.init_from.empty()) {
    net->load_from(data.init);
    if (average) copy_parameters(average, net);
    state.best_valid_bits = validate(net, data.valid);
    if (!options.quiet) {
      std::fprintf(stderr, "from %s: valid %.4f bits/sample\n", options.init_from.c_str(),
                   state.best_valid_bits);
    }
  }

  TrainResult result;
  const int64_t crop = sampler.crop_length();
  const int64_t rf = config.receptive_field();
  auto crops = torch::empty({options.batch, crop}, torch::kInt64);
  auto speaker_ids = torch::zeros({options.batch}, torch::kInt64);
  std::vector<CropSampler::Where> where(options.batch);
  const auto start = Clock::now();
  auto last_print = start;
  double train_time = 0, loss_sum = 0;
  int64_t loss_count = 0;
  const int64_t first_step = state.step + 1;
  const bool tty = isatty(2);
  const InterruptGuard interrupt_guard;

  for (int64_t step = first_step; step <= options.steps; ++step) {
    const auto t0 = Clock::now();
    std::seed_seq seq{uint64_t(state.seed), uint64_t(step)};
    std::mt19937_64 rng(seq);
    sampler.sample(rng, options.batch, crops.data_ptr<int64_t>(), speaker_ids.data_ptr<int64_t>(),
                   config.has_local() ? where.data() : nullptr);
    torch::Tensor weights;
    if (options.onset_weight != 1) {
      weights = torch::empty({options.batch, crop - rf}, torch::kFloat32);
      for (int b = 0; b < options.batch; ++b) {
        const auto w = onset_weights(config, crops.data_ptr<int64_t>() + b * crop, crop,
                                     float(options.onset_weight));
        std::copy(w.begin() + rf, w.end(), weights.data_ptr<float>() + b * (crop - rf));
      }
    }
    torch::Tensor inputs = crops;
    if (options.input_noise > 0) {
      inputs = crops.clone();
      std::bernoulli_distribution noisy(options.noisy_crop_fraction);
      for (int b = 0; b < options.batch; ++b) {
        if (!noisy(rng)) continue;
        perturb_codes(rng, config.classes, options.input_noise, inputs.data_ptr<int64_t>() + b * crop, crop);
      }
    }
    const double loss = train_step(net, optimizer, inputs, crops, config.has_global() ? speaker_ids
                                   : torch::Tensor(), learning_rate(options, step),
                                   options.clip_norm, options.bf16,
                                   config.has_local() ? where : std::vector<CropSampler::Where>{},
                                   weights);
    if (!std::isfinite(loss)) {
      throw Error("training diverged (loss " + std::to_string(loss) + ") at step " +
                  std::to_string(step) + "; lower --lr");
    }
    if (average) update_average(average, net, options.ema_decay);
    train_time += seconds_since(t0);
    state.step = step;
    result.losses.push_back(float(loss));
    loss_sum += loss;
    ++loss_count;

    const double elapsed = seconds_since(start);
    const bool out_of_time = options.max_minutes > 0 && elapsed >= options.max_minutes * 60;
    const bool stop = step == options.steps || out_of_time || g_interrupted ||
                      step == options.stop_after_step;
    if (!options.quiet && (seconds_since(last_print) >= (tty ? 1 : 30) || stop)) {
      const int64_t done = step - first_step + 1;
      std::fprintf(stderr, "%sstep %lld/%lld  loss %.3f bits  lr %.2e  %.0f targets/s  ETA %s%s",
                   tty ? "\r" : "", (long long)step, (long long)options.steps,
                   loss_sum / double(loss_count), learning_rate(options, step),
                   double(done * options.batch * options.output_length) / train_time,
                   format_duration(elapsed / double(done) * double(options.steps - step)).c_str(),
                   tty ? "\033[K" : "\n");
      last_print = Clock::now();
      loss_sum = 0;
      loss_count = 0;
    }
    if (step % options.valid_every == 0 || stop) {
      const double bits = validate(judged, data.valid);
      const bool best = bits < state.best_valid_bits;
      if (best || options.snapshots) {
        const Model model = judged->to_model();
        if (best) {
          state.best_valid_bits = bits;
          model.save(options.output);
        }
        if (options.snapshots) {
          model.save(sibling(options.output, ".step" + std::to_string(step) + ".fwm").string());
        }
      }
      save_checkpoint(last, net, optimizer, state, average ? &average : nullptr);
      if (!options.quiet) {
        // The time since this run started, for curves of validation NLL against hours.
        std::fprintf(stderr, "%sstep %lld after %s: valid %.4f bits/sample%s\n", tty ? "\r\033[K" : "",
                     (long long)step, format_duration(seconds_since(start)).c_str(), bits,
                     best ? " (best, exported)" : "");
      }
    }
    if (stop) break;
  }
  result.step = state.step;
  result.best_valid_bits = state.best_valid_bits;
  return result;
}

double benchmark(const TrainOptions& options, int steps) {
  prepare(options);
  if (steps < 1) throw Error("--benchmark-steps must be at least 1");
  options.config.validate();
  if (options.config.has_local()) throw Error("--benchmark-steps does not time local conditioning yet");
  torch::manual_seed(options.seed);
  Net net(options.config);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(options.lr));
  const auto& c = options.config;
  const int64_t crop = c.receptive_field() + options.output_length;
  double elapsed = 0;
  for (int i = 0; i <= steps; ++i) {
    // Random ids: the cost of a step does not depend on the data.
    auto crops = torch::randint(c.classes, {options.batch, crop}, torch::kInt64);
    auto speakers = c.has_global() ? torch::randint(c.speakers, {options.batch}, torch::kInt64)
                                   : torch::Tensor();
    const auto t0 = Clock::now();
    train_step(net, optimizer, crops, crops, speakers, options.lr, options.clip_norm, options.bf16);
    if (i > 0) elapsed += seconds_since(t0);  // step 0 pays for allocation
  }
  return double(steps) * double(options.batch * options.output_length) / elapsed;
}

}  // namespace fastwave::train
