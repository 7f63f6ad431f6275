// The MobileFaceNet on oneDNN, following dnnl_recognition_net.cpp. The graph and weights come from
// the ONNX file through OpenCV's importer (the exporter already folded the batch norms into the
// convolutions), so this file only changes the engine:
//   * every layer is a convolution (plain, depthwise or 7x7 global depthwise); the residual add is
//     its sum post-op, accumulated in place onto the shortcut;
//   * PReLU runs in place as oneDNN's prelu primitive after its convolution: oneDNN 2.6 has the prelu
//     post-op on its reference convolution only (hundreds of times slower on 1x1 and depthwise);
//   * layouts are left to oneDNN (format_tag::any); weights are reordered once per layout asked for;
//   * activations of one call share one arena, tensors whose lifetimes do not overlap at the same
//     offsets, so the working set stays small (cache) however deep the graph.
//
// Thread safety: as dnnl_recognition_net.cpp. Shared and immutable after creation: the model, the
// reordered weights and each batch-size plan (created lazily under a mutex). Per call: a leased
// Workspace (stream, arena, user-mode scratchpad) from the plan's free list.
#include "embed/dnnl_mobile_face_net.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn/all_layers.hpp>
#include <opencv2/dnn/shape_utils.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "align/arcface_chip.hpp"
#include "model/dnn_flops.hpp"
#include "embed/dnnl_plans.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

using dnnl_plans::plain_f32;

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

const cv::dnn::MatShape kInputShape = {1, 3, kArcFaceChipSize, kArcFaceChipSize};

// One convolution with the PReLU and residual add after it fused in.
struct ConvNode {
  std::string name;
  int layer_id = 0;        // OpenCV's, for the in-place check
  int src = -1, dst = -1;  // value ids; value 0 is the network input. With `sum`, dst is the shortcut.
  int cin = 0, cout = 0, groups = 1;
  int kernel[2] = {}, stride[2] = {}, pad_begin[2] = {}, pad_end[2] = {}, dilation[2] = {};
  std::vector<float> weights;  // [cout, cin / groups, kh, kw]: goihw's order (oihw for one group)
  std::vector<float> bias;
  bool sum = false;           // adds onto dst (the residual add)
  std::vector<float> prelu;   // then PReLU with these per-channel slopes; empty: none
};

struct ValueShape {
  int channels = 0, rows = 0, cols = 0;
};

// Immutable after loading.
struct Model {
  std::vector<ConvNode> convs;  // in execution order
  std::vector<ValueShape> values;
  int output = -1;  // value holding the 512 outputs, N x 512 x 1 x 1
  std::int64_t flops = 0;
};

// Walks OpenCV's layer list (ids follow the ONNX nodes, a topological order) into a Model.
class GraphReader {
 public:
  GraphReader(cv::dnn::Net& net, std::string file) : net_(net), file_(std::move(file)) {}

  Model read() {
    std::vector<int> ids;
    for (const std::string& name : net_.getLayerNames()) ids.push_back(net_.getLayerId(name));
    std::sort(ids.begin(), ids.end());
    for (int id : ids) {
      for (int input : inputs_of(id)) consumers_[input].push_back(id);
    }
    model_.values.push_back({3, kArcFaceChipSize, kArcFaceChipSize});
    value_of_[0] = 0;  // OpenCV's input layer
    for (int id : ids) {
      const cv::Ptr<cv::dnn::Layer> layer = net_.getLayer(id);
      const std::string& type = layer->type;
      if (type == "Convolution") {
        conv(id, layer);
      } else if (type == "PReLU") {
        prelu(id, layer);
      } else if (type == "Eltwise") {
        add(id, layer);
      } else if (type == "Reshape" || type == "Flatten" || type == "Identity") {
        pass_through(id, layer);
      } else {
        fail(layer, "layer type " + type + " is not supported");
      }
    }
    const std::vector<int> outputs = net_.getUnconnectedOutLayers();
    if (outputs.size() != 1) fail("the graph has " + std::to_string(outputs.size()) + " outputs, expected 1");
    model_.output = value_of_.at(outputs[0]);
    const ValueShape& out = model_.values[static_cast<std::size_t>(model_.output)];
    if (model_.output == 0 || out.channels != kMobileFaceNetDims || out.rows != 1 || out.cols != 1) {
      fail("the output is not " + std::to_string(kMobileFaceNetDims) + " values");
    }
    return std::move(model_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::kModelCorrupt, file_ + ": " + what + " (oneDNN MobileFaceNet)");
  }
  [[noreturn]] void fail(const cv::Ptr<cv::dnn::Layer>& layer, const std::string& what) const {
    fail("layer " + layer->name + ": " + what);
  }

  std::vector<int> inputs_of(int id) {
    std::vector<int> ids;
    for (const cv::Ptr<cv::dnn::Layer>& input : net_.getLayerInputs(id)) ids.push_back(net_.getLayerId(input->name));
    return ids;
  }

  int value(const cv::Ptr<cv::dnn::Layer>& layer, int input) const {
    const auto it = value_of_.find(input);
    if (it == value_of_.end()) fail(layer, "reads a layer that is not computed before it");
    return it->second;
  }

  // The layers that read `id`'s output, looking through the pass-through layers that alias it.
  std::vector<int> readers(int id) const {
    std::vector<int> result;
    const auto it = consumers_.find(id);
    if (it == consumers_.end()) return result;
    for (int consumer : it->second) {
      const std::string& type = net_.getLayer(consumer)->type;
      if (type == "Reshape" || type == "Flatten" || type == "Identity") {
        const std::vector<int> more = readers(consumer);
        result.insert(result.end(), more.begin(), more.end());
      }
      result.push_back(consumer);
    }
    return result;
  }

  void shapes(int id, std::vector<cv::dnn::MatShape>& in, std::vector<cv::dnn::MatShape>& out) {
    net_.getLayerShapes(kInputShape, id, in, out);
  }

  void conv(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto params = layer.dynamicCast<cv::dnn::ConvolutionLayer>();
    const std::vector<int> inputs = inputs_of(id);
    std::vector<cv::dnn::MatShape> in, out;
    shapes(id, in, out);
    if (!params || inputs.size() != 1 || in.size() != 1 || out.size() != 1 || in[0].size() != 4 ||
        out[0].size() != 4) {
      fail(layer, "not a 2-D convolution of one input");
    }
    if (layer->blobs.empty() || layer->blobs[0].dims != 4 || layer->blobs[0].type() != CV_32F) {
      fail(layer, "no 4-D f32 weights");
    }
    if (params->kernel_size.size() != 2 || params->strides.size() != 2 || params->pads_begin.size() != 2 ||
        params->pads_end.size() != 2 || params->dilations.size() != 2 || !params->padMode.empty()) {
      fail(layer, "unsupported kernel, stride, padding or dilation");
    }
    const cv::Mat& w = layer->blobs[0];
    ConvNode node;
    node.name = layer->name;
    node.layer_id = id;
    node.cin = in[0][1];
    node.cout = w.size[0];
    const int per_group = w.size[1];
    if (per_group <= 0 || node.cin % per_group != 0 || node.cout % (node.cin / per_group) != 0 ||
        out[0][1] != node.cout) {
      fail(layer, "weights do not match the input channels");
    }
    node.groups = node.cin / per_group;
    for (int d = 0; d < 2; ++d) {
      node.kernel[d] = static_cast<int>(params->kernel_size[d]);
      node.stride[d] = static_cast<int>(params->strides[d]);
      node.pad_begin[d] = static_cast<int>(params->pads_begin[d]);
      node.pad_end[d] = static_cast<int>(params->pads_end[d]);
      node.dilation[d] = static_cast<int>(params->dilations[d]);
      const int extent = (node.kernel[d] - 1) * node.dilation[d] + 1;
      const int expected = (in[0][2 + d] + node.pad_begin[d] + node.pad_end[d] - extent) / node.stride[d] + 1;
      if (node.kernel[d] != w.size[2 + d] || node.stride[d] < 1 || node.dilation[d] < 1 || out[0][2 + d] != expected) {
        fail(layer, "kernel, stride or padding do not match the shapes");
      }
    }
    node.weights.assign(w.ptr<float>(), w.ptr<float>() + w.total());
    if (layer->blobs.size() > 1) {
      const cv::Mat& b = layer->blobs[1];
      if (b.type() != CV_32F || static_cast<int>(b.total()) != node.cout) fail(layer, "bias size");
      node.bias.assign(b.ptr<float>(), b.ptr<float>() + b.total());
    } else {
      node.bias.assign(static_cast<std::size_t>(node.cout), 0.0F);
    }
    node.src = value(layer, inputs[0]);
    node.dst = static_cast<int>(model_.values.size());
    model_.values.push_back({node.cout, out[0][2], out[0][3]});
    value_of_[id] = node.dst;
    model_.convs.push_back(std::move(node));
  }

  // The last convolution, when it alone wrote `input`'s value and nothing else reads `input`, so a
  // post-op on it computes `layer` (id) in place.
  ConvNode& fusable_producer(int id, const cv::Ptr<cv::dnn::Layer>& layer, int input) {
    if (model_.convs.empty() || model_.convs.back().dst != value(layer, input) || readers(input) != std::vector<int>{id}) {
      fail(layer, "does not follow a convolution it can be fused into");
    }
    return model_.convs.back();
  }

  void prelu(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    if (inputs.size() != 1) fail(layer, "expected one input");
    ConvNode& node = fusable_producer(id, layer, inputs[0]);
    if (!node.prelu.empty()) fail(layer, "a second PReLU on one convolution");
    if (layer->blobs.size() != 1 || layer->blobs[0].type() != CV_32F) fail(layer, "no f32 slopes");
    const cv::Mat& s = layer->blobs[0];
    std::vector<float> slopes(s.ptr<float>(), s.ptr<float>() + s.total());
    if (slopes.size() == 1) slopes.resize(static_cast<std::size_t>(node.cout), slopes[0]);
    if (static_cast<int>(slopes.size()) != node.cout) fail(layer, "slopes do not match the channels");
    node.prelu = std::move(slopes);
    value_of_[id] = node.dst;
  }

  // OpenCV's Eltwise is sum, product or max, with coefficients: run it on two values to know.
  bool is_plain_sum(const cv::Ptr<cv::dnn::Layer>& layer) {
    const int dims[4] = {1, 1, 1, 2};
    std::vector<cv::Mat> in = {cv::Mat(4, dims, CV_32F), cv::Mat(4, dims, CV_32F)};
    std::vector<cv::Mat> out = {cv::Mat(4, dims, CV_32F, cv::Scalar(0))}, internals;
    const float a[2] = {2.0F, -4.0F}, b[2] = {3.0F, 0.5F};
    std::memcpy(in[0].ptr<float>(), a, sizeof(a));
    std::memcpy(in[1].ptr<float>(), b, sizeof(b));
    std::vector<cv::dnn::MatShape> out_shapes, internal_shapes;
    layer->getMemoryShapes({cv::dnn::shape(in[0]), cv::dnn::shape(in[1])}, 1, out_shapes, internal_shapes);
    layer->finalize(cv::InputArrayOfArrays(in), cv::OutputArrayOfArrays(out));
    layer->forward(in, out, internals);
    return out[0].ptr<float>()[0] == 5.0F && out[0].ptr<float>()[1] == -3.5F;
  }

  // A residual add: one input is the last convolution's output, the other the shortcut, onto which
  // that convolution accumulates (sum post-op) when nothing reads the shortcut afterwards.
  void add(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    std::vector<cv::dnn::MatShape> in, out;
    shapes(id, in, out);
    if (inputs.size() != 2 || in.size() != 2 || in[0] != in[1]) fail(layer, "expected two inputs of one shape");
    if (!is_plain_sum(layer)) fail(layer, "only a plain sum is supported");
    const bool first_is_conv = !model_.convs.empty() && model_.convs.back().dst == value(layer, inputs[0]);
    const int conv_input = first_is_conv ? inputs[0] : inputs[1];
    const int shortcut = first_is_conv ? inputs[1] : inputs[0];
    ConvNode& node = fusable_producer(id, layer, conv_input);
    const int target = value(layer, shortcut);
    // The PReLU primitive runs after the sum, so a PReLU between the conv and the add cannot be fused.
    if (node.sum || !node.prelu.empty()) fail(layer, "an add after a PReLU or another add is not supported");
    for (int reader : readers(shortcut)) {
      if (reader != id && reader > node.layer_id) fail(layer, "the shortcut is read after the add");
    }
    if (target == 0 || target == node.src) fail(layer, "cannot add in place onto that input");
    node.sum = true;
    node.dst = target;
    value_of_[id] = target;
  }

  // Reshape/Flatten/Identity that only drop trailing 1s (N x 512 x 1 x 1 -> N x 512): no data moves.
  void pass_through(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    std::vector<cv::dnn::MatShape> in, out;
    shapes(id, in, out);
    if (inputs.size() != 1 || in.size() != 1 || out.size() != 1) fail(layer, "expected one input");
    auto squeezed = [](cv::dnn::MatShape s) {
      while (s.size() > 2 && s.back() == 1) s.pop_back();
      return s;
    };
    if (squeezed(in[0]) != squeezed(out[0])) fail(layer, "reshapes data, which is not supported");
    value_of_[id] = value(layer, inputs[0]);
  }

  cv::dnn::Net& net_;
  std::string file_;
  Model model_;
  std::map<int, int> value_of_;  // OpenCV layer id -> value id
  std::map<int, std::vector<int>> consumers_;
};

Model load_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kModelMissing, "cannot read model file " + path.string());
  const std::vector<uchar> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes);
    Model model = GraphReader(net, path.string()).read();
    model.flops = count_flops(net, kInputShape);
    return model;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot read it as a 1x3x112x112 network (" +
                                              std::string(e.err) + ")");
  }
}

using dnnl_plans::Step;
using dnnl_plans::Workspace;

// Everything for one batch size; immutable once built.
struct Plan {
  int batch = 0;
  std::vector<memory::desc> tensors;
  std::vector<std::size_t> offsets;  // of each tensor in the arena
  std::size_t arena_bytes = 0;
  std::vector<Step> steps;
  int input = -1;   // N x 3 x 112 x 112, f32 nchw
  int output = -1;  // N x 512 x 1 x 1, f32 nchw
  std::size_t scratchpad_bytes = 0;
};

// Weights reordered into the layouts the plans' primitives chose, biases and slopes; shared by
// every plan. Guarded by the net's plan mutex.
class WeightCache {
 public:
  WeightCache(const dnnl::engine& engine, const Model& model) {
    for (const ConvNode& conv : model.convs) {
      weights_.emplace_back(engine, weights_desc(conv, /*plain=*/true), conv.weights.data());
      slopes_.emplace_back(engine, slopes_desc(conv, Tag::nchw), conv.prelu.data());  // used only with a PReLU
      biases_.push_back(dnnl_plans::f32_vector(engine, conv.bias));
    }
  }

  memory weights(std::size_t layer, const memory::desc& desc) { return weights_[layer].in_layout(desc); }
  // PReLU slopes as a 1 x C x 1 x 1 tensor.
  memory slopes(std::size_t layer, const memory::desc& desc) { return slopes_[layer].in_layout(desc); }
  const memory& bias(std::size_t layer) const { return biases_[layer]; }

  // Grouped weights are 5-D (g, o/g, i/g, h, w). `plain`: the model's own order, else oneDNN's choice.
  static memory::desc weights_desc(const ConvNode& conv, bool plain) {
    const memory::dim g = conv.groups, o = conv.cout, i = conv.cin / conv.groups;
    if (g == 1) return {{o, i, conv.kernel[0], conv.kernel[1]}, Dt::f32, plain ? Tag::oihw : Tag::any};
    return {{g, o / g, i, conv.kernel[0], conv.kernel[1]}, Dt::f32, plain ? Tag::goihw : Tag::any};
  }

  static memory::desc slopes_desc(const ConvNode& conv, Tag tag) { return {{1, conv.cout, 1, 1}, Dt::f32, tag}; }

 private:
  std::vector<dnnl_plans::ConstantTensor> weights_;  // per conv
  std::vector<dnnl_plans::ConstantTensor> slopes_;
  std::vector<memory> biases_;
};

// Builds the plan for one batch size: one primitive per ConvNode, reorders where layouts differ,
// then places the tensors in one arena.
class PlanBuilder : dnnl_plans::PlanBuilderBase<Plan> {
 public:
  PlanBuilder(const dnnl::engine& engine, const Model& model, WeightCache& cache, int batch)
      : PlanBuilderBase(engine, batch), model_(model), cache_(cache) {}

  std::shared_ptr<Plan> build() {
    const memory::dim n = plan_->batch;
    tensor_of_.assign(model_.values.size(), -1);
    plan_->input = add_tensor(plain_f32(n, 3, kArcFaceChipSize, kArcFaceChipSize));
    tensor_of_[0] = plan_->input;
    for (std::size_t layer = 0; layer < model_.convs.size(); ++layer) conv(layer);
    plan_->output = as_layout(tensor_of_[static_cast<std::size_t>(model_.output)], plain_f32(n, kMobileFaceNetDims, 1, 1));
    place_tensors();
    return plan_;
  }

 private:
  void conv(std::size_t layer) {
    const ConvNode& node = model_.convs[layer];
    const memory::dim n = plan_->batch;
    const int src = tensor_of_[static_cast<std::size_t>(node.src)];
    const ValueShape& out = model_.values[static_cast<std::size_t>(node.dst)];
    const memory::dims dst_dims = {n, out.channels, out.rows, out.cols};
    // A sum accumulates onto the shortcut's tensor, in the layout it already has.
    const int sum_into = node.sum ? tensor_of_[static_cast<std::size_t>(node.dst)] : -1;
    const memory::desc dst_desc = node.sum ? desc_of(sum_into) : memory::desc(dst_dims, Dt::f32, Tag::any);
    if (dst_desc.dims() != dst_dims) throw Error(ErrorCode::kInternal, node.name + ": sum shape mismatch");

    dnnl::post_ops ops;
    if (node.sum) ops.append_sum(1.0F);
    // A fresh attr: primitive_attr copies share one underlying object.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(ops);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        memory::desc(desc_of(src).dims(), Dt::f32, Tag::any), WeightCache::weights_desc(node, /*plain=*/false),
        memory::desc({node.cout}, Dt::f32, Tag::x), dst_desc, {node.stride[0], node.stride[1]},
        {node.dilation[0] - 1, node.dilation[1] - 1}, {node.pad_begin[0], node.pad_begin[1]},
        {node.pad_end[0], node.pad_end[1]});
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);

    const int src_tensor = as_layout(src, pd.src_desc());
    const int dst = node.sum ? sum_into : add_tensor(pd.dst_desc());
    Step step;
    step.name = node.name + " [" + pd.impl_info_str() + "]";
    step.primitive = dnnl::convolution_forward(pd);
    step.tensor_args = {{DNNL_ARG_SRC, src_tensor}, {DNNL_ARG_DST, dst}};
    step.constant_args = {{DNNL_ARG_WEIGHTS, cache_.weights(layer, pd.weights_desc())},
                          {DNNL_ARG_BIAS, cache_.bias(layer)}};
    add_step(std::move(step), pd.scratchpad_desc());
    if (!node.prelu.empty()) prelu(layer, dst);
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  // PReLU in place on the conv's output.
  void prelu(std::size_t layer, int tensor) {
    const ConvNode& node = model_.convs[layer];
    const dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, desc_of(tensor),
                                         WeightCache::slopes_desc(node, Tag::any));
    const dnnl::prelu_forward::primitive_desc pd(desc, attr_, engine_);
    Step step;
    step.name = node.name + "/prelu [" + std::string(pd.impl_info_str()) + "]";
    step.primitive = dnnl::prelu_forward(pd);
    step.tensor_args = {{DNNL_ARG_SRC, tensor}, {DNNL_ARG_DST, tensor}};
    step.constant_args = {{DNNL_ARG_WEIGHTS, cache_.slopes(layer, pd.weights_desc())}};
    add_step(std::move(step), pd.scratchpad_desc());
  }

  // Greedy by size: each tensor at the lowest offset clear of every placed tensor whose lifetime
  // (first step writing it to last step reading it) overlaps its own. A step's output never shares
  // memory with its inputs, since both are live at that step.
  void place_tensors() {
    const std::size_t count = plan_->tensors.size();
    const int last_step = static_cast<int>(plan_->steps.size());
    std::vector<int> first(count, last_step), last(count, -1);
    first[static_cast<std::size_t>(plan_->input)] = -1;     // written by embed() before the steps
    last[static_cast<std::size_t>(plan_->output)] = last_step;  // read by embed() after them
    for (int s = 0; s < last_step; ++s) {
      for (const auto& [arg, tensor] : plan_->steps[static_cast<std::size_t>(s)].tensor_args) {
        first[static_cast<std::size_t>(tensor)] = std::min(first[static_cast<std::size_t>(tensor)], s);
        last[static_cast<std::size_t>(tensor)] = std::max(last[static_cast<std::size_t>(tensor)], s);
      }
    }
    constexpr std::size_t kAlign = 64;
    std::vector<std::size_t> size(count);
    for (std::size_t t = 0; t < count; ++t) size[t] = (plan_->tensors[t].get_size() + kAlign - 1) / kAlign * kAlign;
    std::vector<std::size_t> order(count);
    for (std::size_t t = 0; t < count; ++t) order[t] = t;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return size[a] > size[b]; });

    plan_->offsets.assign(count, 0);
    std::vector<std::size_t> placed;
    for (std::size_t t : order) {
      // Tensors in the way, by offset; move past each one that overlaps.
      std::vector<std::size_t> clashes;
      for (std::size_t p : placed) {
        if (first[t] <= last[p] && first[p] <= last[t]) clashes.push_back(p);
      }
      std::sort(clashes.begin(), clashes.end(),
                [&](std::size_t a, std::size_t b) { return plan_->offsets[a] < plan_->offsets[b]; });
      std::size_t offset = 0;
      for (std::size_t p : clashes) {
        if (offset + size[t] <= plan_->offsets[p]) break;
        offset = std::max(offset, plan_->offsets[p] + size[p]);
      }
      plan_->offsets[t] = offset;
      plan_->arena_bytes = std::max(plan_->arena_bytes, offset + size[t]);
      placed.push_back(t);
    }
  }

  const Model& model_;
  WeightCache& cache_;
  std::vector<int> tensor_of_;  // value id -> the tensor holding it now
};

void check_chips(const std::vector<cv::Mat>& chips) {
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const cv::Mat& chip = chips[i];
    if (chip.type() != CV_8UC3 || chip.rows != kArcFaceChipSize || chip.cols != kArcFaceChipSize) {
      throw Error(ErrorCode::kInvalidArgument,
                  "face chip " + std::to_string(i) + " must be a 112x112 8-bit BGR image for the MobileFaceNet");
    }
  }
}

class DnnlMobileFaceNet final : public MobileFaceNet {
 public:
  explicit DnnlMobileFaceNet(Model model)
      : model_(std::move(model)), engine_(dnnl::engine::kind::cpu, 0), cache_(engine_, model_) {}

  std::vector<std::vector<float>> embed(const std::vector<cv::Mat>& chips) const override {
    check_chips(chips);
    std::vector<std::vector<float>> result;
    result.reserve(chips.size());
    dnnl_plans::for_each_batch(chips.size(), [&](std::size_t first, std::size_t count) {
      embed_batch(chips, first, count, result);
    });
    return result;
  }

  std::int64_t flops_per_chip() const override { return model_.flops; }
  const char* backend_name() const override { return "oneDNN f32"; }

 private:
  void embed_batch(const std::vector<cv::Mat>& chips, std::size_t first, std::size_t count,
                   std::vector<std::vector<float>>& result) const {
    auto lease = plans_.lease(static_cast<int>(count));
    const Plan& plan = lease.plan();
    Workspace* ws = &lease.workspace();

    // As cv::dnn::blobFromImages(chips, 1/128, 127.5): (float(pixel) - 127.5) * (1/128), BGR planes.
    float* input = static_cast<float*>(ws->tensors[static_cast<std::size_t>(plan.input)].get_data_handle());
    const std::size_t plane = static_cast<std::size_t>(kArcFaceChipSize) * kArcFaceChipSize;
    for (std::size_t i = 0; i < count; ++i) {
      const cv::Mat& chip = chips[first + i];
      float* planes = input + i * 3 * plane;
      for (int r = 0; r < kArcFaceChipSize; ++r) {
        const cv::Vec3b* row = chip.ptr<cv::Vec3b>(r);
        for (int c = 0; c < kArcFaceChipSize; ++c) {
          const std::size_t at = static_cast<std::size_t>(r) * kArcFaceChipSize + c;
          for (int ch = 0; ch < 3; ++ch) planes[ch * plane + at] = (static_cast<float>(row[c][ch]) - 127.5F) * (1.0F / 128.0F);
        }
      }
    }

    for (std::size_t s = 0; s < plan.steps.size(); ++s) plan.steps[s].primitive.execute(ws->stream, ws->args[s]);
    ws->stream.wait();

    // L2-normalised, as mobile_face_net.cpp.
    const float* out = static_cast<const float*>(ws->tensors[static_cast<std::size_t>(plan.output)].get_data_handle());
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = out + i * kMobileFaceNetDims;
      double norm = 0;
      for (int k = 0; k < kMobileFaceNetDims; ++k) norm += double(row[k]) * row[k];
      const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0F;
      std::vector<float>& embedding = result.emplace_back(kMobileFaceNetDims);
      for (int k = 0; k < kMobileFaceNetDims; ++k) embedding[static_cast<std::size_t>(k)] = row[k] * scale;
    }
  }

  std::unique_ptr<Workspace> make_workspace(const Plan& plan) const {
    auto ws = std::make_unique<Workspace>();
    ws->stream = dnnl::stream(engine_);
    ws->arena = memory({{static_cast<memory::dim>(plan.arena_bytes)}, Dt::u8, Tag::x}, engine_);
    char* base = static_cast<char*>(ws->arena.get_data_handle());
    for (std::size_t t = 0; t < plan.tensors.size(); ++t) ws->tensors.emplace_back(plan.tensors[t], engine_, base + plan.offsets[t]);
    const memory scratchpad({{static_cast<memory::dim>(plan.scratchpad_bytes)}, Dt::u8, Tag::x}, engine_);
    for (const Step& step : plan.steps) {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, tensor] : step.tensor_args) args.emplace(arg, ws->tensors[static_cast<std::size_t>(tensor)]);
      for (const auto& [arg, mem] : step.constant_args) args.emplace(arg, mem);
      args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad);
      ws->args.push_back(std::move(args));
    }
    return ws;
  }

  Model model_;
  dnnl::engine engine_;
  mutable WeightCache cache_;  // filled while plans are built, under plans_'s lock
  dnnl_plans::PlanSet<Plan, Workspace> plans_{
      [this](int batch) -> std::shared_ptr<const Plan> { return PlanBuilder(engine_, model_, cache_, batch).build(); },
      [this](const Plan& plan) { return make_workspace(plan); }};
};

}  // namespace

std::unique_ptr<MobileFaceNet> make_dnnl_mobile_face_net(const std::filesystem::path& models_dir) {
  const std::filesystem::path path = models_dir / kMobileFaceNetFile;
  auto net = std::make_unique<DnnlMobileFaceNet>(load_model(path));
  // Build the batch-1 plan now so unsupported primitives surface at load time, not on first use.
  try {
    net->embed({cv::Mat(kArcFaceChipSize, kArcFaceChipSize, CV_8UC3, cv::Scalar::all(127))});
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": oneDNN cannot run the graph (" + e.what() + ")");
  }
  return net;
}

}  // namespace siamface
