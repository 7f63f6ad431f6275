// face-api's FaceRecognitionNet (dlib_face_recognition_resnet_model_v1) on oneDNN, faster than
// OpenCV DNN (docs/speed.md, "Embedding"; bench/embed_speed_bench, bench/dnnl_study_bench). The topology,
// weights and preprocessing are those of recognition_net.cpp (the reference, recognition_net_spec.hpp);
// this file only changes the engine:
//   * each "conv + bias + scale" is one oneDNN convolution, the scale folded into the weights;
//   * relu and the residual add are post-ops (eltwise_relu; sum + eltwise_relu, accumulated in place
//     onto the block input), so a residual block is two primitives;
//   * layouts are left to oneDNN (format_tag::any); weights are reordered once per layout asked for;
//   * the residualDown join (zero rows/columns on the conv branch, zero channels on the 2x2 average
//     pool shortcut) and the head (global mean, fc 256->128) are plain loops on small plain-f32
//     tensors: 64x17x17 at most, negligible next to the convolutions.
//
// Thread safety: embed() is const and safe from many threads. Shared and immutable after creation:
// the folded weights, the reordered weight memories and the primitives of each batch-size plan
// (plans are created lazily under a mutex). Per call: a leased Workspace (stream, activation
// buffers, user-mode scratchpad) from the plan's free list, so no two concurrent calls share memory
// that a primitive writes.
#include "embed/dnnl_recognition_net.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "embed/recognition_net_spec.hpp"
#include "model/dnn_graph.hpp"
#include "model/tfjs_weights.hpp"
#include "model/dnnl_plans.hpp"
#include "util/batches.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

using dnnl_plans::plain_f32;

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

using namespace recognition_spec;

// A conv with its per-channel scale folded in: y = (conv(x) + b) * s + t = conv'(x) + (b*s + t).
struct FoldedConv {
  int cout = 0, cin = 0, kernel = 0;
  std::vector<float> weights;  // oihw
  std::vector<float> bias;
};

// Immutable after loading. convs[0] is the stem, then conv1, conv2 of each block in kBlocks order.
struct Model {
  std::vector<FoldedConv> convs;
  cv::Mat fc;  // [128, 256]
};

FoldedConv fold_unit(const WeightMap& map, const std::string& prefix) {
  const cv::Mat filters = conv_filters_from_tf(map.at(prefix + "/conv/filters"));
  const std::vector<float>& bias = map.at(prefix + "/conv/bias").values;
  const std::vector<float>& scale = map.at(prefix + "/scale/weights").values;
  const std::vector<float>& shift = map.at(prefix + "/scale/biases").values;
  FoldedConv conv;
  conv.cout = filters.size[0];
  conv.cin = filters.size[1];
  conv.kernel = filters.size[2];
  const std::size_t per_output = static_cast<std::size_t>(conv.cin) * conv.kernel * conv.kernel;
  conv.weights.assign(filters.ptr<float>(), filters.ptr<float>() + per_output * conv.cout);
  conv.bias.resize(static_cast<std::size_t>(conv.cout));
  for (int o = 0; o < conv.cout; ++o) {
    for (std::size_t i = 0; i < per_output; ++i) conv.weights[o * per_output + i] *= scale[o];
    conv.bias[o] = bias[o] * scale[o] + shift[o];
  }
  return conv;
}

Model load_model(const std::filesystem::path& manifest) {
  const WeightMap map = WeightMap::load(manifest, expected_tensors());
  Model model;
  model.convs.push_back(fold_unit(map, "conv32_down"));
  for (const BlockSpec& block : kBlocks) {
    model.convs.push_back(fold_unit(map, std::string(block.prefix) + "/conv1"));
    model.convs.push_back(fold_unit(map, std::string(block.prefix) + "/conv2"));
  }
  model.fc = dense_from_tf(map.at("fc"));
  return model;
}

using dnnl_plans::Step;
using dnnl_plans::Workspace;

// Everything for one batch size; immutable once built.
struct Plan {
  int batch = 0;
  std::vector<memory::desc> tensors;  // activation tensors, allocated per workspace
  std::vector<Step> steps;
  int input = -1;     // N x 3 x 150 x 150, f32 nchw
  int features = -1;  // N x 256 x 2 x 2, f32 nchw
  std::size_t scratchpad_bytes = 0;
};

// Per conv (index as in Model::convs): its weights (oihw) and bias.
dnnl_plans::LayerConstants layer_constants(const dnnl::engine& engine, const Model& model) {
  dnnl_plans::LayerConstants constants;
  for (const FoldedConv& conv : model.convs) {
    constants.add(engine, memory::desc({conv.cout, conv.cin, conv.kernel, conv.kernel}, Dt::f32, Tag::oihw),
                  conv.weights.data(), conv.bias);
  }
  return constants;
}

// Builds the plan for one batch size, following build_net() in recognition_net.cpp.
class PlanBuilder : dnnl_plans::PlanBuilderBase<Plan> {
 public:
  PlanBuilder(const dnnl::engine& engine, const Model& model, dnnl_plans::LayerConstants& cache, Dt activations,
              int batch)
      : PlanBuilderBase(engine, batch), model_(model), cache_(cache), act_(activations) {}

  std::shared_ptr<Plan> build() {
    const memory::dim n = plan_->batch;
    plan_->input = add_tensor(plain_f32(n, 3, kChipSize, kChipSize));
    std::size_t layer = 0;
    // The stem stays f32 in bf16 mode too: with 3 input channels bf16 buys nothing (measured slower
    // than f32), and the max pool follows it; the first residual conv reorders to bf16.
    int x = conv("stem", plan_->input, layer++, 2, 0, /*relu=*/true, -1, nullptr, Dt::f32);
    x = max_pool(x, 3, 2);
    for (const BlockSpec& spec : kBlocks) {
      const std::string name = spec.prefix;
      if (spec.kind == BlockKind::kResidual) {
        int shortcut = -1;
        const int t = conv(name + "/conv1", x, layer++, 1, 1, true, -1, &shortcut);
        // conv2 accumulates onto the (possibly reordered) block input: x = relu(conv2(t) + x).
        x = conv(name + "/conv2", t, layer++, 1, 1, true, shortcut);
      } else {
        x = residual_down(name, x, layer, spec.in_channels, spec.out_channels);
        layer += 2;
      }
    }
    plan_->features = x;
    const memory::desc& features = plan_->tensors[static_cast<std::size_t>(x)];
    if (features != plain_f32(n, kFeatureChannels, 2, 2)) {
      throw Error(ErrorCode::kInternal, "oneDNN recognition net: unexpected feature shape");
    }
    return plan_;
  }

 private:
  // conv + folded scale [+ sum onto `sum_into`] [+ relu]. `used_src` receives the tensor the conv
  // actually reads (the input, or its reordered copy).
  int conv(const std::string& name, int src, std::size_t layer, int stride, int pad, bool relu,
           int sum_into = -1, int* used_src = nullptr, std::optional<Dt> data_type = std::nullopt) {
    const Dt act = data_type.value_or(act_);
    const FoldedConv& w = model_.convs[layer];
    const memory::dims& in = desc_of(src).dims();
    const memory::dim out_size = (in[2] + 2 * pad - w.kernel) / stride + 1;
    const memory::dims dst_dims = {in[0], w.cout, out_size, out_size};
    const memory::desc src_any(in, act, Tag::any);
    const memory::desc weights_any({w.cout, w.cin, w.kernel, w.kernel}, act, Tag::any);
    const memory::desc bias_desc({w.cout}, Dt::f32, Tag::x);
    const memory::desc dst_desc = sum_into >= 0 ? desc_of(sum_into) : memory::desc(dst_dims, act, Tag::any);
    if (dst_desc.dims() != dst_dims) throw Error(ErrorCode::kInternal, name + ": sum shape mismatch");

    dnnl::post_ops ops;
    if (sum_into >= 0) ops.append_sum(1.0F);
    if (relu) ops.append_eltwise(1.0F, dnnl::algorithm::eltwise_relu, 0.0F, 0.0F);
    // A fresh attr: primitive_attr copies share one underlying object.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(ops);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, weights_any,
        bias_desc, dst_desc, {stride, stride}, {pad, pad}, {pad, pad});
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);

    const int src_tensor = as_layout(src, pd.src_desc());
    if (used_src) *used_src = src_tensor;
    const int dst = sum_into >= 0 ? sum_into : add_tensor(pd.dst_desc());
    Step step;
    step.name = name + " [" + pd.impl_info_str() + "]";
    step.primitive = dnnl::convolution_forward(pd);
    step.tensor_args = {{DNNL_ARG_SRC, src_tensor}, {DNNL_ARG_DST, dst}};
    step.constant_args = {{DNNL_ARG_WEIGHTS, cache_.weights(layer, pd.weights_desc())},
                          {DNNL_ARG_BIAS, cache_.bias(layer)}};
    add_step(std::move(step), pd.scratchpad_desc());
    return dst;
  }

  int max_pool(int src, int kernel, int stride) {
    const memory::dims& in = desc_of(src).dims();
    const memory::dim out_size = valid_size(static_cast<int>(in[2]), kernel, stride);
    const memory::desc dst_any({in[0], in[1], out_size, out_size}, desc_of(src).data_type(), Tag::any);
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                           desc_of(src), dst_any, {stride, stride}, {kernel, kernel},
                                           {0, 0}, {0, 0});
    const dnnl::pooling_forward::primitive_desc pd(desc, attr_, engine_);
    const int dst = add_tensor(pd.dst_desc());
    Step step;
    step.name = "max_pool [" + std::string(pd.impl_info_str()) + "]";
    step.primitive = dnnl::pooling_forward(pd);
    step.tensor_args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    add_step(std::move(step), pd.scratchpad_desc());
    return dst;
  }

  // residualDown: relu(pad_rows_cols(conv2(relu(conv1_s2_valid(x)))) + pad_channels(avgpool2x2(x))).
  // The join runs as a loop on plain f32 copies; its output (plain f32) feeds the next conv.
  int residual_down(const std::string& name, int x, std::size_t layer, int cin, int cout) {
    const memory::dims in = desc_of(x).dims();
    const memory::dim n = in[0];
    const int size = static_cast<int>(in[2]);
    const int conv_size = valid_size(size, 3, 2);
    const int pool_size = valid_size(size, 2, 2);
    const int t = conv(name + "/conv1", x, layer, 2, 0, true);
    const int u = conv(name + "/conv2", t, layer + 1, 1, 1, false);
    const int branch = as_layout(u, plain_f32(n, cout, conv_size, conv_size));
    const int input = as_layout(x, plain_f32(n, cin, size, size));
    const int out = add_tensor(plain_f32(n, cout, pool_size, pool_size));
    Step step;
    step.name = name + "/join";
    step.host = [=](const std::vector<memory>& tensors) {
      const float* b = static_cast<const float*>(tensors[branch].get_data_handle());
      const float* s = static_cast<const float*>(tensors[input].get_data_handle());
      float* y = static_cast<float*>(tensors[out].get_data_handle());
      for (memory::dim i = 0; i < n; ++i) {
        for (int c = 0; c < cout; ++c) {
          const float* bc = b + (i * cout + c) * conv_size * conv_size;
          const float* sc = s + (i * cin + c) * size * size;
          for (int r = 0; r < pool_size; ++r) {
            for (int col = 0; col < pool_size; ++col) {
              float v = r < conv_size && col < conv_size ? bc[r * conv_size + col] : 0.0F;
              if (c < cin) {
                const float* p = sc + 2 * r * size + 2 * col;
                v += (p[0] + p[1] + p[size] + p[size + 1]) * 0.25F;
              }
              *y++ = v > 0.0F ? v : 0.0F;
            }
          }
        }
      }
    };
    plan_->steps.push_back(std::move(step));
    return out;
  }

  const Model& model_;
  dnnl_plans::LayerConstants& cache_;
  Dt act_;
};

class DnnlRecognitionNet final : public RecognitionNet {
 public:
  DnnlRecognitionNet(Model model, DnnlPrecision precision)
      : model_(std::move(model)),
        engine_(dnnl::engine::kind::cpu, 0),
        activations_(precision == DnnlPrecision::kBF16 ? Dt::bf16 : Dt::f32),
        cache_(layer_constants(engine_, model_)) {}

  std::vector<Embedding> embed(const std::vector<cv::Mat>& chips) const override {
    check_recognition_chips(chips);
    std::vector<Embedding> result;
    result.reserve(chips.size());
    const dnnl_plans::EngineThreads threads;
    for_each_batch(chips.size(), [&](std::size_t first, std::size_t count) {
      embed_batch(chips, first, count, result);
    });
    return result;
  }

  void embed_batch(const std::vector<cv::Mat>& all, std::size_t first, std::size_t count,
                   std::vector<Embedding>& result) const {
    const std::vector<cv::Mat> chips(all.begin() + static_cast<std::ptrdiff_t>(first),
                                     all.begin() + static_cast<std::ptrdiff_t>(first + count));
    auto lease = plans_.lease(static_cast<int>(chips.size()));
    const Plan& plan = lease.plan();
    Workspace* ws = &lease.workspace();

    const cv::Mat blob = recognition_blob(chips);
    std::memcpy(ws->tensors[static_cast<std::size_t>(plan.input)].get_data_handle(), blob.ptr<float>(),
                blob.total() * sizeof(float));

    for (std::size_t s = 0; s < plan.steps.size(); ++s) {
      const Step& step = plan.steps[s];
      if (step.host) {
        ws->stream.wait();
        step.host(ws->tensors);
      } else {
        step.primitive.execute(ws->stream, ws->args[s]);
      }
    }
    ws->stream.wait();

    // Head: global mean over 2x2, then fc [128, 256] without bias (as recognition_net.cpp).
    const float* features =
        static_cast<const float*>(ws->tensors[static_cast<std::size_t>(plan.features)].get_data_handle());
    float pooled[kFeatureChannels];
    for (std::size_t i = 0; i < chips.size(); ++i) {
      for (int c = 0; c < kFeatureChannels; ++c) {
        const float* p = features + (i * kFeatureChannels + c) * 4;
        pooled[c] = (p[0] + p[1] + p[2] + p[3]) * 0.25F;
      }
      Embedding& embedding = result.emplace_back(kDlibEmbeddingSize);
      for (int o = 0; o < kDlibEmbeddingSize; ++o) {
        const float* w = model_.fc.ptr<float>(o);
        float sum = 0.0F;
        for (int c = 0; c < kFeatureChannels; ++c) sum += w[c] * pooled[c];
        embedding[static_cast<std::size_t>(o)] = sum;
      }
    }
  }

  const char* backend_name() const override {
    return activations_ == Dt::bf16 ? "oneDNN bf16" : "oneDNN f32";
  }

  // As OpenCV's Net::getFLOPS counts this graph (OpenCV 4.6 layer formulas): conv
  // out*(2*k*k*cin + 1), scale 2/element, relu 1/element, eltwise add 2/element, pools
  // out*kernel_area (max) or out*(kernel_area + 1) (average), padding 0, fc 3*in*out.
  std::int64_t flops_per_chip() const override {
    auto elements = [](std::int64_t c, std::int64_t s) { return c * s * s; };
    auto conv = [&](std::int64_t out, std::int64_t cout, std::int64_t cin, std::int64_t k) {
      return elements(cout, out) * (2 * k * k * cin + 1);
    };
    int size = valid_size(kChipSize, kStemKernel, 2);
    std::int64_t flops = conv(size, kStemChannels, 3, kStemKernel) + 3 * elements(kStemChannels, size);
    size = valid_size(size, 3, 2);
    flops += elements(kStemChannels, size) * 9;
    for (const BlockSpec& spec : kBlocks) {
      const int cin = spec.in_channels, cout = spec.out_channels;
      if (spec.kind == BlockKind::kResidual) {
        // two conv + scale, relu after conv1, add, relu after the add
        flops += 2 * (conv(size, cout, cin, 3) + 2 * elements(cout, size)) + 4 * elements(cout, size);
        continue;
      }
      const int conv_size = valid_size(size, 3, 2), pool_size = valid_size(size, 2, 2);
      flops += conv(conv_size, cout, cin, 3) + 3 * elements(cout, conv_size);   // conv1 + scale + relu
      flops += conv(conv_size, cout, cout, 3) + 2 * elements(cout, conv_size);  // conv2 + scale
      flops += elements(cin, pool_size) * 5;                                    // avg pool 2x2
      flops += 3 * elements(cout, pool_size);                                   // add + relu
      size = pool_size;
    }
    flops += elements(kFeatureChannels, 1) * (size * size + 1);  // global mean
    flops += 3 * kFeatureChannels * kDlibEmbeddingSize;          // fc
    return flops;
  }

 private:
  std::unique_ptr<Workspace> make_workspace(const Plan& plan) const {
    auto ws = std::make_unique<Workspace>();
    ws->stream = dnnl::stream(engine_);
    for (const memory::desc& desc : plan.tensors) ws->tensors.emplace_back(desc, engine_);
    const memory scratchpad({{static_cast<memory::dim>(plan.scratchpad_bytes)}, Dt::u8, Tag::x}, engine_);
    for (const Step& step : plan.steps) {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, tensor] : step.tensor_args) args.emplace(arg, ws->tensors[static_cast<std::size_t>(tensor)]);
      for (const auto& [arg, mem] : step.constant_args) args.emplace(arg, mem);
      if (!step.host) args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad);
      ws->args.push_back(std::move(args));
    }
    return ws;
  }

  Model model_;
  dnnl::engine engine_;
  Dt activations_;
  mutable dnnl_plans::LayerConstants cache_;  // filled while plans are built, under plans_'s lock
  dnnl_plans::PlanSet<Plan, Workspace> plans_{
      [this](int batch) -> std::shared_ptr<const Plan> { return PlanBuilder(engine_, model_, cache_, activations_, batch).build(); },
      [this](const Plan& plan) { return make_workspace(plan); }};
};

}  // namespace

std::unique_ptr<RecognitionNet> make_dnnl_recognition_net(const std::filesystem::path& manifest,
                                                          DnnlPrecision precision) {
  if (precision == DnnlPrecision::kBF16 && !has_native_bf16()) {
    throw Error(ErrorCode::kInvalidArgument,
                "bf16 recognition needs a CPU with native bf16 (avx512_bf16 or AMX); oneDNN reports none");
  }
  auto net = std::make_unique<DnnlRecognitionNet>(load_model(manifest), precision);
  // Build the batch-1 plan now so unsupported primitives surface at load time, not on first use.
  net->embed({cv::Mat(kChipSize, kChipSize, CV_8UC3, cv::Scalar::all(0))});
  return net;
}

}  // namespace siamface
