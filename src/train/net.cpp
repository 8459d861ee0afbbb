#include "train/net.h"

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
  if (config_.has_local()) throw Error("training with local conditioning is not supported");
  const auto& c = config_;
  const int layers = c.num_layers();
  // Registration order is file order, which keeps checkpoints readable.
  start_conv = register_module("start_conv", conv(c.classes, c.residual_channels, 1, c.bias));
  filter_convs = conv_list(*this, "filter_convs", layers, c.residual_channels,
                           c.dilation_channels, c.kernel_size, c.bias);
  gate_convs = conv_list(*this, "gate_convs", layers, c.residual_channels,
                         c.dilation_channels, c.kernel_size, c.bias);
  residual_convs = conv_list(*this, "residual_convs", layers, c.dilation_channels,
                             c.residual_channels, 1, c.bias);
  skip_convs = conv_list(*this, "skip_convs", layers, c.dilation_channels, c.skip_channels,
                         1, c.bias);
  end_conv_1 = register_module("end_conv_1", conv(c.skip_channels, c.end_channels, 1, true));
  end_conv_2 = register_module("end_conv_2", conv(c.end_channels, c.classes, 1, true));
  if (c.has_global()) {
    global_embedding = register_module(
        "global_embedding", torch::nn::Embedding(c.speakers, c.global_channels));
    global_filter_convs = conv_list(*this, "global_filter_convs", layers, c.global_channels,
                                    c.dilation_channels, 1, false);
    global_gate_convs = conv_list(*this, "global_gate_convs", layers, c.global_channels,
                                  c.dilation_channels, 1, false);
  }
}

torch::Tensor NetImpl::forward(const torch::Tensor& ids, const torch::Tensor& speakers,
                               bool causal) {
  const auto& c = config_;
  const int64_t length = ids.size(1);
  const int64_t out_length = causal ? length : length - c.receptive_field() + 1;
  TORCH_CHECK(out_length > 0, "input shorter than the receptive field");
  const int dil = c.dilation_channels;

  // The start conv on one-hot input is a column lookup: [B, T] -> [B, residual, T].
  auto x = torch::embedding(start_conv->weight.squeeze(2).t(), ids).transpose(1, 2).contiguous();
  if (c.bias) x = x + start_conv->bias.view({1, -1, 1});

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
  if (model.config().to_json() != config_.to_json()) {
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

}  // namespace fastwave::train
