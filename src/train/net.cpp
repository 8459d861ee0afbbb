#include "train/net.h"

#include <algorithm>
#include <string>

#include "fastwave/error.h"

namespace fastwave::train {
namespace {

torch::nn::Conv1d conv(int in, int out, int kernel, bool bias) {
  return torch::nn::Conv1d(torch::nn::Conv1dOptions(in, out, kernel).bias(bias));
}

// Registers `convs` as a ModuleList so that parameters are named "<name>.<layer>.weight".
std::vector<torch::nn::Conv1d> conv_list(torch::nn::Module& owner, const std::string& name,
                                         int layers, int in, int out, int kernel, bool bias) {
  std::vector<torch::nn::Conv1d> convs;
  torch::nn::ModuleList list;
  for (int n = 0; n < layers; ++n) {
    convs.push_back(conv(in, out, kernel, bias));
    list->push_back(convs.back());
  }
  owner.register_module(name, list);
  return convs;
}

torch::Tensor cat_weights(const std::vector<torch::nn::Conv1d>& a,
                          const std::vector<torch::nn::Conv1d>& b, int n) {
  return torch::cat({a[n]->weight, b[n]->weight}, 0);
}

}  // namespace

NetImpl::NetImpl(const ModelConfig& config) : config_(config) {
  config_.validate();
  const auto& c = config_;
  const int layers = c.num_layers();
  // Registration order is file order, which keeps checkpoints readable.
  start_conv = register_module("start_conv", conv(c.input_width(), c.residual_channels, 1, c.bias));
  filter_convs = conv_list(*this, "filter_convs", layers, c.residual_channels,
                           c.dilation_channels, c.kernel_size, c.bias);
  gate_convs = conv_list(*this, "gate_convs", layers, c.residual_channels,
                         c.dilation_channels, c.kernel_size, c.bias);
  residual_convs = conv_list(*this, "residual_convs", layers, c.dilation_channels,
                             c.residual_channels, 1, c.bias);
  skip_convs = conv_list(*this, "skip_convs", layers, c.dilation_channels, c.skip_channels,
                         1, c.bias);
  end_conv_1 = register_module("end_conv_1", conv(c.skip_channels, c.end_channels, 1, true));
  end_conv_2 = register_module("end_conv_2", conv(c.end_channels, c.outputs(), 1, true));
  if (c.has_global()) {
    global_embedding = register_module(
        "global_embedding", torch::nn::Embedding(c.speakers, c.global_channels));
    global_filter_convs = conv_list(*this, "global_filter_convs", layers, c.global_channels,
                                    c.dilation_channels, 1, false);
    global_gate_convs = conv_list(*this, "global_gate_convs", layers, c.global_channels,
                                  c.dilation_channels, 1, false);
  }
  if (c.has_local()) {
    local_filter_convs = conv_list(*this, "local_filter_convs", layers, c.local_channels,
                                   c.dilation_channels, 1, false);
    local_gate_convs = conv_list(*this, "local_gate_convs", layers, c.local_channels,
                                 c.dilation_channels, 1, false);
  }
  if (c.has_upsampling()) {
    // Parameters "upsample.conv_in.weight" and "upsample.convs.<i>.weight", as in the file.
    auto upsample = std::make_shared<torch::nn::Module>();
    if (c.upsample_conv_in) {
      upsample_conv_in = upsample->register_module(
          "conv_in", conv(c.local_channels, c.local_channels, 2 * c.cin_pad + 1, false));
    }
    torch::nn::ModuleList stages;
    torch::NoGradGuard no_grad;
    for (int scale : c.upsample_scales) {
      if (c.upsample_transposed) {  // r9y9's older stages: weights 1/freq_kernel, bias 0
        upsample_transposed_convs.push_back(torch::nn::ConvTranspose2d(
            torch::nn::ConvTranspose2dOptions(1, 1, {c.upsample_freq_kernel, scale}).bias(true)));
        upsample_transposed_convs.back()->weight.fill_(1.0 / double(c.upsample_freq_kernel));
        upsample_transposed_convs.back()->bias.zero_();
        stages->push_back(upsample_transposed_convs.back());
        continue;
      }
      const int64_t width = 2 * scale + 1;
      upsample_convs.push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(1, 1, {c.upsample_freq_kernel, width}).bias(false)));
      upsample_convs.back()->weight.fill_(1.0 / double(c.upsample_freq_kernel * width));
      stages->push_back(upsample_convs.back());
    }
    upsample->register_module("convs", stages);
    register_module("upsample", upsample);
  }
}

torch::Tensor NetImpl::upsample(const torch::Tensor& frames) {
  const auto& c = config_;
  TORCH_CHECK(c.has_local() && frames.dim() == 3 && frames.size(1) == c.local_channels,
              "frames must be [B, local_channels, F]");
  if (!c.has_upsampling()) return frames.repeat_interleave(c.local_hop, 2);
  auto x = frames;
  if (c.upsample_conv_in) {
    // Edge frames repeated, as the engine does, so the output has one column per frame.
    x = upsample_conv_in(torch::nn::functional::pad(
        x, torch::nn::functional::PadFuncOptions({c.cin_pad, c.cin_pad}).mode(torch::kReplicate)));
  }
  x = x.unsqueeze(1);  // [B, 1, channels, time]: the stages are 2-D convs over that plane
  for (size_t i = 0; i < upsample_transposed_convs.size(); ++i) {
    const int64_t scale = c.upsample_scales[i];
    const auto& stage = upsample_transposed_convs[i];
    x = torch::relu(torch::nn::functional::conv_transpose2d(
        x, stage->weight,
        torch::nn::functional::ConvTranspose2dFuncOptions().bias(stage->bias).stride({1, scale}).padding(
            {c.upsample_freq_kernel / 2, 0})));
  }
  for (size_t i = 0; i < upsample_convs.size(); ++i) {
    const int64_t scale = c.upsample_scales[i];
    x = torch::nn::functional::conv2d(
        x.repeat_interleave(scale, 3), upsample_convs[i]->weight,
        torch::nn::functional::Conv2dFuncOptions().padding({c.upsample_freq_kernel / 2, scale}));
  }
  return x.squeeze(1);
}

torch::Tensor NetImpl::forward(const torch::Tensor& ids, const torch::Tensor& speakers,
                               bool causal, const torch::Tensor& local) {
  const auto& c = config_;
  const int64_t length = ids.size(1);
  const int64_t out_length = causal ? length : length - c.receptive_field() + 1;
  TORCH_CHECK(out_length > 0, "input shorter than the receptive field");
  const int dil = c.dilation_channels;

  // The start conv on one-hot input is a column lookup: [B, T] -> [B, residual, T]; on a
  // scalar input, a 1x1 conv of the sample values.
  torch::Tensor x;
  if (c.scalar_input()) {
    const auto values = (ids.to(torch::kFloat32) - 32768.0f) * (1.0f / 32768.0f);
    x = torch::conv1d(values.unsqueeze(1), start_conv->weight, c.bias ? start_conv->bias : torch::Tensor());
  } else {
    x = torch::embedding(start_conv->weight.squeeze(2).t(), ids).transpose(1, 2).contiguous();
    if (c.bias) x = x + start_conv->bias.view({1, -1, 1});
  }

  // Global conditioning adds a per-sequence constant to each layer's filter and gate.
  torch::Tensor cond;  // [B, layers, 2*dilation]
  if (c.has_global()) {
    TORCH_CHECK(speakers.defined() && speakers.size(0) == ids.size(0), "speakers must be [B]");
    std::vector<torch::Tensor> w;
    for (int n = 0; n < c.num_layers(); ++n) {
      w.push_back(cat_weights(global_filter_convs, global_gate_convs, n).squeeze(2));
    }
    cond = torch::matmul(global_embedding(speakers), torch::cat(w, 0).t())
               .view({ids.size(0), c.num_layers(), 2 * dil});
  }

  // Only the last out_length positions of each layer feed the skip sum, so the skip convs
  // of all layers become one conv over the concatenated tails.
  std::vector<torch::Tensor> tails;
  for (int n = 0; n < c.num_layers(); ++n) {
    const int64_t dilation = c.dilation(n);
    const int64_t shift = (c.kernel_size - 1) * dilation;  // how much a valid conv shortens x
    // Filter and gate as one conv with 2*dilation outputs: half the passes over x.
    torch::Tensor bias;
    if (c.bias) bias = torch::cat({filter_convs[n]->bias, gate_convs[n]->bias});
    auto in = causal ? torch::constant_pad_nd(x, {shift, 0}) : x;
    auto fg = torch::conv1d(in, cat_weights(filter_convs, gate_convs, n), bias,
                            torch::IntArrayRef{1}, torch::IntArrayRef{0},
                            torch::IntArrayRef{dilation});
    if (cond.defined()) fg = fg + cond.select(1, n).unsqueeze(2);
    if (c.has_local()) {
      // The features of the positions this conv's outputs end at: the last ones.
      TORCH_CHECK(local.defined() && local.size(2) == length, "local must be [B, local_channels, T]");
      fg = fg + torch::conv1d(local.narrow(2, length - fg.size(2), fg.size(2)),
                              cat_weights(local_filter_convs, local_gate_convs, n));
    }
    auto z = torch::tanh(fg.narrow(1, 0, dil)) * torch::sigmoid(fg.narrow(1, dil, dil));
    tails.push_back(z.narrow(2, z.size(2) - out_length, out_length));
    // The last layer's residual output feeds nothing. The residual path drops the
    // `shift` oldest positions that the valid conv consumed.
    if (n + 1 < c.num_layers()) {
      const auto& res = residual_convs[n];
      x = torch::conv1d(z, res->weight, c.bias ? res->bias : torch::Tensor()) +
          (causal ? x : x.narrow(2, shift, x.size(2) - shift));
    }
  }
  std::vector<torch::Tensor> skip_w;
  torch::Tensor skip_b;
  for (const auto& s : skip_convs) {
    skip_w.push_back(s->weight);
    if (c.bias) skip_b = skip_b.defined() ? skip_b + s->bias : s->bias;
  }
  auto skip = torch::conv1d(torch::cat(tails, 1), torch::cat(skip_w, 1), skip_b);
  auto h = torch::relu(end_conv_1(torch::relu(skip)));
  return end_conv_2(h);
}

torch::Tensor crop_features(Net& net, const std::vector<float>& mel, int64_t start, int64_t count) {
  const ModelConfig& c = net->config();
  const int64_t hop = c.local_hop, frames = int64_t(mel.size()) / c.local_channels;
  const int64_t first = std::max<int64_t>(0, start), end = start + count;
  TORCH_CHECK(count > 0 && end <= frames * hop, "features asked past the last frame");
  // Each stage reaches one of its input steps either side (at most a frame), conv_in
  // cin_pad frames: outside this margin the window's edges cannot reach the outputs, and
  // at the sequence's ends the window ends where the sequence does.
  const int64_t margin = c.cin_pad + int64_t(c.upsample_scales.size()) + 1;
  const int64_t f0 = std::max<int64_t>(0, first / hop - margin);
  const int64_t f1 = std::min(frames, (end - 1) / hop + 1 + margin);
  const auto all = torch::from_blob(const_cast<float*>(mel.data()), {frames, c.local_channels}, torch::kFloat32);
  const auto window = all.narrow(0, f0, f1 - f0).t().unsqueeze(0).contiguous();
  auto up = net->upsample(window).narrow(2, first - f0 * hop, end - first);
  if (first == start) return up;
  return torch::cat({torch::zeros({1, c.local_channels, first - start}, up.options()), up}, 2);
}

Model NetImpl::to_model() const {
  std::map<std::string, Tensor> tensors;
  for (const auto& p : named_parameters()) {
    if (!p.value().defined()) continue;  // libtorch registers absent biases as undefined
    auto t = p.value().detach().to(torch::kFloat32).contiguous();
    tensors[p.key()] = Tensor::from_floats(t.sizes().vec(), {t.data_ptr<float>(),
                                                             size_t(t.numel())});
  }
  return Model(config_, std::move(tensors));
}

void NetImpl::load_from(const Model& model) {
  if (model.is_quantized()) throw Error("cannot train from a quantized model");
  ModelConfig same_coding = model.config();
  same_coding.preemphasis = config_.preemphasis;  // how samples are coded, not a tensor's shape
  if (same_coding.to_json() != config_.to_json()) {
    throw Error("the model's config differs from the one being trained: " +
                model.config().to_json());
  }
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (!p.value().defined()) continue;
    const auto values = model.weights(p.key());
    p.value().copy_(torch::from_blob(const_cast<float*>(values.data()), p.value().sizes(),
                                     torch::kFloat32));
  }
}

torch::Tensor output_nll(const ModelConfig& c, const torch::Tensor& outputs, const torch::Tensor& targets) {
  namespace F = torch::nn::functional;
  if (c.output == ModelConfig::Output::kSoftmax) {
    return F::cross_entropy(outputs, targets, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  }
  const int64_t k = c.mixtures;
  const bool single = c.output == ModelConfig::Output::kGaussianMixture && k == 1;
  const auto y = ((targets.to(torch::kFloat32) - 32768.0f) * (1.0f / 32768.0f)).unsqueeze(1);  // [B, 1, T]
  const auto means = outputs.narrow(1, single ? 0 : k, k);
  const auto log_scales = torch::clamp_min(outputs.narrow(1, single ? 1 : 2 * k, k), c.log_scale_min);
  const auto centered = y - means;
  torch::Tensor log_probability;  // [B, K, T]
  if (c.output == ModelConfig::Output::kLogisticMixture) {
    // r9y9's discretized logistic: bins one 16-bit step wide, open-ended at the edges; where
    // the bin is too narrow to difference, the density at its centre times its width.
    constexpr double kHalfBin = 1.0 / 65535.0;
    const auto inverse_scale = torch::exp(-log_scales);
    const auto plus_in = inverse_scale * (centered + kHalfBin), min_in = inverse_scale * (centered - kHalfBin);
    const auto cdf_delta = torch::sigmoid(plus_in) - torch::sigmoid(min_in);
    const auto mid_in = inverse_scale * centered;
    const auto narrow_bin = mid_in - log_scales - 2.0 * F::softplus(mid_in) - std::log(65535.0 / 2.0);
    const auto inner = torch::where(cdf_delta > 1e-5, torch::log(torch::clamp_min(cdf_delta, 1e-12)), narrow_bin);
    log_probability = torch::where(y < -0.999, plus_in - F::softplus(plus_in),
                                   torch::where(y > 0.999, -F::softplus(min_in), inner));
  } else {
    const auto z = centered * torch::exp(-log_scales);
    log_probability = -0.5 * z * z - log_scales + (std::log(2.0 / 65535.0) - 0.5 * std::log(2.0 * M_PI));
  }
  if (k > 1) log_probability = log_probability + torch::log_softmax(outputs.narrow(1, 0, k), 1);
  return -torch::logsumexp(log_probability, 1);
}

}  // namespace fastwave::train
