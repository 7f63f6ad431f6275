// A cv::dnn::Net's graph on oneDNN (dnnl_opencv_graph.hpp): a GraphReader turns OpenCV's layers
// into nodes (fusing activations and residual adds as post-ops), a PlanBuilder turns the nodes into
// oneDNN primitives per batch size and packs the activations into one arena.
//
// Thread safety: shared and immutable after creation: the model, the reordered weights and each
// batch-size plan (created lazily under the PlanSet's mutex). Per call: a leased Workspace.
#include "model/dnnl_opencv_graph.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/dnn/all_layers.hpp>
#include <opencv2/dnn/shape_utils.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/dnnl_plans.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;
using dnnl_plans::plain_f32;
using dnnl_plans::Step;
using dnnl_plans::Workspace;

// OpenCV's PoolingLayer::type (PoolingLayerImpl's enum, not in the public header).
constexpr int kOpenCvMaxPool = 0;
constexpr int kOpenCvAvePool = 1;

// An activation, or as a post-op with `sum` set, the residual add onto the destination's previous
// contents (the shortcut's tensor).
struct Eltwise {
  dnnl::algorithm algorithm = dnnl::algorithm::undef;
  float alpha = 0, beta = 0;
  bool sum = false;
};

enum class Kind { kConv, kEltwise, kAdd, kPool, kInnerProduct, kPrelu, kConcat };

struct Node {
  Kind kind = Kind::kConv;
  std::string name;
  std::vector<int> src;  // value ids; value 0 is the network input
  int dst = -1;
  // Convolution and pooling geometry; dilation as OpenCV states it (1: none).
  int groups = 1;
  int kernel[2] = {}, stride[2] = {}, pad_begin[2] = {}, pad_end[2] = {}, dilation[2] = {1, 1};
  int cout = 0;
  memory::dims weights_dims;   // conv: oihw, or goihw with groups; inner product: oihw or oi; PReLU: 1 x c (x 1 x 1)
  std::vector<float> weights;  // in that plain order (PReLU: the slopes)
  std::vector<float> bias;     // empty: none
  dnnl::algorithm algorithm = dnnl::algorithm::undef;  // pooling
  Eltwise eltwise;                                     // kEltwise
  std::vector<Eltwise> post_ops;                       // activations (and a conv's residual add) fused after it
};

// Whether a convolution adds its result onto its destination (a fused residual add).
bool has_sum(const Node& node) {
  return std::any_of(node.post_ops.begin(), node.post_ops.end(), [](const Eltwise& op) { return op.sum; });
}

// A value is N x c x h x w, or N x c when `flat` (an inner product's output).
struct ValueShape {
  int c = 0, h = 1, w = 1;
  bool flat = false;
};

// Immutable after loading.
struct Model {
  std::vector<ValueShape> values;  // value 0: the input
  std::vector<Node> nodes;         // in execution order
  std::vector<int> outputs;        // value ids, in the order asked for
  std::vector<cv::dnn::MatShape> output_shapes;  // OpenCV's shapes of the outputs (batch of the reader's input)
};

bool is_pass_through(const std::string& type) { return type == "Reshape" || type == "Flatten" || type == "Identity"; }

// Walks OpenCV's layer list (ids in the order the layers were added, a topological order for nets
// built with DnnGraph or imported from ONNX) into a Model.
class GraphReader {
 public:
  GraphReader(cv::dnn::Net& net, cv::dnn::MatShape input, std::vector<std::string> outputs, std::string label)
      : net_(net), input_(std::move(input)), output_names_(std::move(outputs)), label_(std::move(label)) {}

  Model read() {
    if (input_.size() != 4 || input_[0] < 1 || input_[1] < 1 || input_[2] < 1 || input_[3] < 1) {
      fail("the input shape must be N x C x H x W");
    }
    if (output_names_.empty()) fail("no outputs asked for");
    std::vector<int> ids;
    for (const std::string& name : net_.getLayerNames()) ids.push_back(net_.getLayerId(name));
    std::sort(ids.begin(), ids.end());

    // The layers the outputs depend on.
    std::vector<int> output_ids;
    for (const std::string& name : output_names_) {
      const int id = net_.getLayerId(name);
      if (id <= 0) fail("no layer named '" + name + "' to read an output from");
      output_ids.push_back(id);
    }
    std::set<int> needed(output_ids.begin(), output_ids.end());
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      if (!needed.count(*it)) continue;
      for (int input : inputs_of(*it)) {
        if (input >= *it) fail(net_.getLayer(*it), "reads a layer added after it");
        needed.insert(input);
      }
    }
    outputs_.insert(output_ids.begin(), output_ids.end());

    std::vector<int> layers;
    for (int id : ids) {
      if (id > 0 && needed.count(id)) layers.push_back(id);  // 0: the input layer
    }
    std::vector<int> shape_ids;  // filled: every layer's
    std::vector<std::vector<cv::dnn::MatShape>> in_shapes, out_shapes;
    net_.getLayersShapes(input_, shape_ids, in_shapes, out_shapes);
    for (std::size_t i = 0; i < shape_ids.size(); ++i) {
      in_shapes_[shape_ids[i]] = in_shapes[i];
      out_shapes_[shape_ids[i]] = out_shapes[i];
    }
    for (int id : layers) {
      if (!out_shapes_.count(id)) fail(net_.getLayer(id), "OpenCV gives no shapes for it");
    }
    for (int id : layers) {
      for (int input : inputs_of(id)) consumers_[input].push_back(id);
    }

    model_.values.push_back({input_[1], input_[2], input_[3], false});
    value_of_[0] = 0;  // OpenCV's input layer
    for (int id : layers) {
      const cv::Ptr<cv::dnn::Layer> layer = net_.getLayer(id);
      const std::string& type = layer->type;
      if (out_shapes_[id].size() != 1) fail(layer, "has " + std::to_string(out_shapes_[id].size()) + " outputs, expected 1");
      if (type == "Convolution") {
        conv(id, layer);
      } else if (type == "ReLU") {
        const auto relu = layer.dynamicCast<cv::dnn::ReLULayer>();
        if (!relu) fail(layer, "not OpenCV's ReLU layer");
        activation(id, layer, {dnnl::algorithm::eltwise_relu, relu->negativeSlope, 0.0F});
      } else if (type == "ReLU6") {
        const auto relu6 = layer.dynamicCast<cv::dnn::ReLU6Layer>();
        if (!relu6 || !(relu6->minValue <= relu6->maxValue)) fail(layer, "not OpenCV's ReLU6 layer");
        activation(id, layer, {dnnl::algorithm::eltwise_clip, relu6->minValue, relu6->maxValue});
      } else if (type == "Power") {
        // (shift + scale x)^power; only the affine case, which oneDNN's linear eltwise is.
        const auto power = layer.dynamicCast<cv::dnn::PowerLayer>();
        if (!power || power->power != 1.0F) fail(layer, "only a Power of exponent 1 (scale and shift) is supported");
        activation(id, layer, {dnnl::algorithm::eltwise_linear, power->scale, power->shift});
      } else if (type == "Concat") {
        concat(id, layer);
      } else if (type == "PReLU") {
        prelu(id, layer);
      } else if (type == "Eltwise") {
        add(id, layer);
      } else if (type == "Pooling") {
        pool(id, layer);
      } else if (type == "InnerProduct") {
        inner_product(id, layer);
      } else if (is_pass_through(type)) {
        pass_through(id, layer);
      } else {
        fail(layer, "layer type " + type + " is not supported");
      }
    }
    for (std::size_t k = 0; k < output_ids.size(); ++k) {
      const int value = value_of_.at(output_ids[k]);
      if (value == 0) fail("output '" + output_names_[k] + "' is the network input");
      model_.outputs.push_back(value);
      model_.output_shapes.push_back(out_shapes_.at(output_ids[k])[0]);
    }
    return std::move(model_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::kModelCorrupt, label_ + ": " + what + " (oneDNN graph)");
  }
  [[noreturn]] void fail(const cv::Ptr<cv::dnn::Layer>& layer, const std::string& what) const {
    fail("layer " + layer->name + ": " + what);
  }

  std::vector<int> inputs_of(int id) const {
    std::vector<int> ids;
    for (const cv::Ptr<cv::dnn::Layer>& input : net_.getLayerInputs(id)) ids.push_back(net_.getLayerId(input->name));
    return ids;
  }

  int value(const cv::Ptr<cv::dnn::Layer>& layer, int input) const {
    const auto it = value_of_.find(input);
    if (it == value_of_.end()) fail(layer, "reads a layer that is not computed before it");
    return it->second;
  }

  const ValueShape& shape_of(int value) const { return model_.values[static_cast<std::size_t>(value)]; }

  int new_value(ValueShape shape) {
    model_.values.push_back(shape);
    return static_cast<int>(model_.values.size()) - 1;
  }

  // The layers that read `id`'s output, looking through the pass-through layers that alias it.
  std::vector<int> readers(int id) const {
    std::vector<int> result;
    const auto it = consumers_.find(id);
    if (it == consumers_.end()) return result;
    for (int consumer : it->second) {
      if (is_pass_through(net_.getLayer(consumer)->type)) {
        const std::vector<int> more = readers(consumer);
        result.insert(result.end(), more.begin(), more.end());
      }
      result.push_back(consumer);
    }
    return result;
  }

  // Whether `id`'s output, or an alias of it, is one of the outputs asked for.
  bool exposed(int id) const {
    if (outputs_.count(id)) return true;
    const auto it = consumers_.find(id);
    if (it == consumers_.end()) return false;
    for (int consumer : it->second) {
      if (is_pass_through(net_.getLayer(consumer)->type) && exposed(consumer)) return true;
    }
    return false;
  }

  // The padding of one spatial axis: the begin as OpenCV computes it (explicit, or 'SAME' as
  // getConvPoolPaddings in OpenCV's layers_common.cpp), the end whatever makes OpenCV's output
  // size (for 'SAME' at stride 2 on an even side, TF's extra row and column at the end).
  void padding(const cv::Ptr<cv::dnn::Layer>& layer, const std::string& mode, std::size_t explicit_begin,
               std::size_t explicit_end, int in, int out, int kernel, int stride, int dilation, int& begin,
               int& end) const {
    const int extent = (kernel - 1) * dilation + 1;
    if (mode.empty()) {
      begin = static_cast<int>(explicit_begin);
      end = static_cast<int>(explicit_end);
    } else if (mode == "VALID" || mode == "SAME") {
      begin = 0;
      if (mode == "SAME" && stride <= kernel) begin = (kernel - 1 - (in - 1 + stride) % stride) / 2;
      end = std::max(0, (out - 1) * stride + extent - in - begin);
    } else {
      fail(layer, "padding mode " + mode + " is not supported");
    }
    if (stride < 1 || dilation < 1 || kernel < 1 || begin < 0 || end < 0 || in + begin + end < extent ||
        (in + begin + end - extent) / stride + 1 != out) {
      fail(layer, "kernel, stride or padding do not match the shapes");
    }
  }

  void conv(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto params = layer.dynamicCast<cv::dnn::ConvolutionLayer>();
    const std::vector<int> inputs = inputs_of(id);
    const std::vector<cv::dnn::MatShape>& in = in_shapes_.at(id);
    const cv::dnn::MatShape& out = out_shapes_.at(id)[0];
    if (!params || inputs.size() != 1 || in.size() != 1 || in[0].size() != 4 || out.size() != 4) {
      fail(layer, "not a 2-D convolution of one input");
    }
    if (layer->blobs.empty() || layer->blobs[0].dims != 4 || layer->blobs[0].type() != CV_32F ||
        !layer->blobs[0].isContinuous()) {
      fail(layer, "no 4-D f32 weights");
    }
    if (params->kernel_size.size() != 2 || params->strides.size() != 2 || params->dilations.size() != 2 ||
        (params->padMode.empty() && (params->pads_begin.size() != 2 || params->pads_end.size() != 2))) {
      fail(layer, "unsupported kernel, stride, padding or dilation");
    }
    const cv::Mat& w = layer->blobs[0];
    Node node;
    node.kind = Kind::kConv;
    node.name = layer->name;
    const int cin = in[0][1];
    node.cout = w.size[0];
    const int per_group = w.size[1];
    if (per_group <= 0 || cin % per_group != 0 || node.cout % (cin / per_group) != 0 || out[1] != node.cout) {
      fail(layer, "weights do not match the input channels");
    }
    node.groups = cin / per_group;
    for (int d = 0; d < 2; ++d) {
      node.kernel[d] = static_cast<int>(params->kernel_size[static_cast<std::size_t>(d)]);
      node.stride[d] = static_cast<int>(params->strides[static_cast<std::size_t>(d)]);
      node.dilation[d] = static_cast<int>(params->dilations[static_cast<std::size_t>(d)]);
      if (node.kernel[d] != w.size[2 + d]) fail(layer, "the kernel does not match the weights");
      padding(layer, params->padMode, params->padMode.empty() ? params->pads_begin[static_cast<std::size_t>(d)] : 0,
              params->padMode.empty() ? params->pads_end[static_cast<std::size_t>(d)] : 0, in[0][2 + d], out[2 + d],
              node.kernel[d], node.stride[d], node.dilation[d], node.pad_begin[d], node.pad_end[d]);
    }
    const memory::dim g = node.groups, o = node.cout, i = per_group;
    node.weights_dims = node.groups == 1 ? memory::dims{o, i, node.kernel[0], node.kernel[1]}
                                         : memory::dims{g, o / g, i, node.kernel[0], node.kernel[1]};
    node.weights.assign(w.ptr<float>(), w.ptr<float>() + w.total());
    if (layer->blobs.size() > 1) {
      const cv::Mat& b = layer->blobs[1];
      if (b.type() != CV_32F || !b.isContinuous() || static_cast<int>(b.total()) != node.cout) fail(layer, "bias size");
      node.bias.assign(b.ptr<float>(), b.ptr<float>() + b.total());
    }
    node.src = {value(layer, inputs[0])};
    if (shape_of(node.src[0]).flat) fail(layer, "reads an inner product's flat output");
    node.dst = new_value({node.cout, out[2], out[3], false});
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // An activation: a post-op of the layer that wrote its input when nothing else reads that
  // input (nor is it an output), else a step of its own. Only straight after that layer: an
  // alias of it (a pass-through layer) may have readers of its own.
  void activation(int id, const cv::Ptr<cv::dnn::Layer>& layer, const Eltwise& op) {
    const std::vector<int> inputs = inputs_of(id);
    if (inputs.size() != 1) fail(layer, "expected one input");
    const int src = value(layer, inputs[0]);
    const auto producer = producer_of_.find(src);
    if (producer != producer_of_.end() && only_reader(id, inputs[0])) {
      Node& node = model_.nodes[producer->second];
      if (node.kind == Kind::kConv || node.kind == Kind::kAdd || node.kind == Kind::kInnerProduct) {
        node.post_ops.push_back(op);
        value_of_[id] = src;
        writer_of_[src] = id;  // a further activation fuses after this one
        return;
      }
    }
    Node node;
    node.kind = Kind::kEltwise;
    node.name = layer->name;
    node.eltwise = op;
    node.src = {src};
    node.dst = new_value(shape_of(src));
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // Whether layer `id` may overwrite `input`'s value: `input` wrote it last (not an alias of it),
  // and nothing else reads it, nor is it an output.
  bool only_reader(int id, int input) const {
    const auto writer = writer_of_.find(value_of_.at(input));
    return writer != writer_of_.end() && writer->second == input && readers(input) == std::vector<int>{id} &&
           !exposed(input);
  }

  // PReLU, per-channel slopes from blobs[0] (or one for all channels): a step of its own, as oneDNN
  // 2.6 has the prelu post-op on its reference convolution only, far slower on 1x1 and depthwise
  // (docs/speed.md, "Embedding"). In place on its input when it alone reads it, as a fused activation would be.
  void prelu(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    if (inputs.size() != 1 || in_shapes_.at(id).size() != 1 || in_shapes_.at(id)[0] != out_shapes_.at(id)[0]) {
      fail(layer, "expected one input of the output's shape");
    }
    if (layer->blobs.size() != 1 || layer->blobs[0].type() != CV_32F || !layer->blobs[0].isContinuous()) {
      fail(layer, "no f32 slopes");
    }
    Node node;
    node.kind = Kind::kPrelu;
    node.name = layer->name;
    node.src = {value(layer, inputs[0])};
    const ValueShape& shape = shape_of(node.src[0]);
    const cv::Mat& s = layer->blobs[0];
    node.weights.assign(s.ptr<float>(), s.ptr<float>() + s.total());
    if (node.weights.size() == 1) node.weights.resize(static_cast<std::size_t>(shape.c), node.weights[0]);
    if (static_cast<int>(node.weights.size()) != shape.c) fail(layer, "slopes do not match the channels");
    node.weights_dims = shape.flat ? memory::dims{1, shape.c} : memory::dims{1, shape.c, 1, 1};
    const bool in_place = producer_of_.count(node.src[0]) && only_reader(id, inputs[0]);
    node.dst = in_place ? node.src[0] : new_value(shape);
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // Channel concatenation of 4-D values (RFB's branches).
  void concat(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto params = layer.dynamicCast<cv::dnn::ConcatLayer>();
    const std::vector<int> inputs = inputs_of(id);
    const cv::dnn::MatShape& out = out_shapes_.at(id)[0];
    if (!params || params->padding || inputs.size() < 2 || out.size() != 4 || (params->axis != 1 && params->axis != -3)) {
      fail(layer, "only a channel concatenation of 4-D values is supported");
    }
    Node node;
    node.kind = Kind::kConcat;
    node.name = layer->name;
    int channels = 0;
    for (int input : inputs) {
      const int v = value(layer, input);
      const ValueShape& shape = shape_of(v);
      if (shape.flat || shape.h != out[2] || shape.w != out[3]) fail(layer, "inputs differ in height or width");
      channels += shape.c;
      node.src.push_back(v);
    }
    if (channels != out[1]) fail(layer, "the input channels do not add up to the output's");
    node.dst = new_value({out[1], out[2], out[3], false});
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // OpenCV's Eltwise is sum, product or max, with coefficients: run it on two values to know.
  static bool is_plain_sum(const cv::Ptr<cv::dnn::Layer>& layer) {
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

  void add(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    const std::vector<cv::dnn::MatShape>& in = in_shapes_.at(id);
    if (inputs.size() != 2 || in.size() != 2 || in[0] != in[1] || in[0] != out_shapes_.at(id)[0]) {
      fail(layer, "expected two inputs of one shape");
    }
    if (!is_plain_sum(layer)) fail(layer, "only a plain sum is supported");
    if (fuse_sum(id, inputs[0], inputs[1]) || fuse_sum(id, inputs[1], inputs[0])) return;
    Node node;
    node.kind = Kind::kAdd;
    node.name = layer->name;
    node.src = {value(layer, inputs[0]), value(layer, inputs[1])};
    node.dst = new_value(shape_of(node.src[0]));
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // The add `id` as the sum post-op of the convolution writing `conv_input`, accumulated in place
  // onto `shortcut`'s tensor: when the add alone reads the convolution's output and nothing reads
  // the shortcut after the convolution has run (nor is it an output, the network input or the
  // convolution's own input). Post-ops run in order: the convolution's activations, then the sum,
  // then activations after the add.
  bool fuse_sum(int id, int conv_input, int shortcut) {
    const int conv_value = value_of_.at(conv_input), target = value_of_.at(shortcut);
    const auto producer = producer_of_.find(conv_value);
    if (producer == producer_of_.end() || !only_reader(id, conv_input)) return false;
    Node& conv = model_.nodes[producer->second];
    if (conv.kind != Kind::kConv || has_sum(conv) || conv.src[0] == target || target == 0) return false;
    const auto writer = writer_of_.find(target);
    if (writer == writer_of_.end() || writer->second != shortcut || exposed(shortcut)) return false;
    // The shortcut must be complete when the conv runs.
    const auto target_producer = producer_of_.find(target);
    if (target_producer == producer_of_.end() || target_producer->second > producer->second) return false;
    // Layers after the add that read the shortcut would see the sum; nodes after the conv's
    // (already read) would too.
    for (int reader : readers(shortcut)) {
      if (reader > id) return false;
    }
    for (std::size_t n = producer->second + 1; n < model_.nodes.size(); ++n) {
      const std::vector<int>& src = model_.nodes[n].src;
      if (std::find(src.begin(), src.end(), target) != src.end()) return false;
    }
    Eltwise sum;
    sum.sum = true;
    conv.post_ops.push_back(sum);
    conv.dst = target;
    value_of_[id] = target;
    writer_of_[target] = id;  // an activation after the add fuses after the sum
    producer_of_[target] = producer->second;
    return true;
  }

  void pool(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto params = layer.dynamicCast<cv::dnn::PoolingLayer>();
    const std::vector<int> inputs = inputs_of(id);
    const std::vector<cv::dnn::MatShape>& in = in_shapes_.at(id);
    const cv::dnn::MatShape& out = out_shapes_.at(id)[0];
    if (!params || inputs.size() != 1 || in.size() != 1 || in[0].size() != 4 || out.size() != 4 || out[1] != in[0][1]) {
      fail(layer, "not a 2-D pooling of one input");
    }
    Node node;
    node.kind = Kind::kPool;
    node.name = layer->name;
    if (params->type == kOpenCvMaxPool) {
      node.algorithm = dnnl::algorithm::pooling_max;
    } else if (params->type == kOpenCvAvePool) {
      node.algorithm = params->avePoolPaddedArea ? dnnl::algorithm::pooling_avg_include_padding
                                                 : dnnl::algorithm::pooling_avg_exclude_padding;
    } else {
      fail(layer, "only max and average pooling are supported");
    }
    if (params->computeMaxIdx && out_shapes_.at(id).size() > 1) fail(layer, "max indices are not supported");
    const bool global = params->globalPooling;
    if (global && !std::all_of(params->isGlobalPooling.begin(), params->isGlobalPooling.end(), [](bool b) { return b; })) {
      fail(layer, "pooling global along some axes only is not supported");
    }
    if (!global && (params->kernel_size.size() != 2 || params->strides.size() != 2 ||
                    (params->padMode.empty() && (params->pads_begin.size() != 2 || params->pads_end.size() != 2)))) {
      fail(layer, "unsupported kernel, stride or padding");
    }
    for (int d = 0; d < 2; ++d) {
      const auto axis = static_cast<std::size_t>(d);
      if (global) {
        node.kernel[d] = in[0][2 + d];
        node.stride[d] = 1;
        padding(layer, "VALID", 0, 0, in[0][2 + d], out[2 + d], node.kernel[d], 1, 1, node.pad_begin[d], node.pad_end[d]);
        continue;
      }
      node.kernel[d] = static_cast<int>(params->kernel_size[axis]);
      node.stride[d] = static_cast<int>(params->strides[axis]);
      padding(layer, params->padMode, params->padMode.empty() ? params->pads_begin[axis] : 0,
              params->padMode.empty() ? params->pads_end[axis] : 0, in[0][2 + d], out[2 + d], node.kernel[d],
              node.stride[d], 1, node.pad_begin[d], node.pad_end[d]);
    }
    // OpenCV's average over a padded window divides by the real elements (avePoolPaddedArea off,
    // as oneDNN's exclude_padding) or by the window clipped to the padding, which oneDNN's
    // include_padding matches only without padding beyond OpenCV's own (ceil mode).
    const bool padded = node.pad_begin[0] || node.pad_begin[1] || node.pad_end[0] || node.pad_end[1];
    if (node.algorithm == dnnl::algorithm::pooling_avg_include_padding && padded) {
      fail(layer, "average pooling over padding counted in the area is not supported");
    }
    node.src = {value(layer, inputs[0])};
    if (shape_of(node.src[0]).flat) fail(layer, "reads an inner product's flat output");
    node.dst = new_value({out[1], out[2], out[3], false});
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  void inner_product(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto params = layer.dynamicCast<cv::dnn::InnerProductLayer>();
    const std::vector<int> inputs = inputs_of(id);
    if (!params || inputs.size() != 1 || params->axis != 1) fail(layer, "not an inner product over all of one input");
    if (layer->blobs.empty() || layer->blobs[0].dims != 2 || layer->blobs[0].type() != CV_32F ||
        !layer->blobs[0].isContinuous()) {
      fail(layer, "no 2-D f32 weights");
    }
    const cv::Mat& w = layer->blobs[0];
    Node node;
    node.kind = Kind::kInnerProduct;
    node.name = layer->name;
    node.src = {value(layer, inputs[0])};
    const ValueShape& src = shape_of(node.src[0]);
    node.cout = w.rows;
    if (static_cast<std::int64_t>(w.cols) != static_cast<std::int64_t>(src.c) * src.h * src.w) {
      fail(layer, "weights do not match the input size");
    }
    node.weights_dims = src.flat ? memory::dims{node.cout, src.c} : memory::dims{node.cout, src.c, src.h, src.w};
    node.weights.assign(w.ptr<float>(), w.ptr<float>() + w.total());
    if (layer->blobs.size() > 1) {
      const cv::Mat& b = layer->blobs[1];
      if (b.type() != CV_32F || !b.isContinuous() || static_cast<int>(b.total()) != node.cout) fail(layer, "bias size");
      node.bias.assign(b.ptr<float>(), b.ptr<float>() + b.total());
    }
    cv::dnn::MatShape out = out_shapes_.at(id)[0];
    if (out.size() < 2 || out[1] != node.cout || cv::dnn::total(out, 2) != 1) fail(layer, "unexpected output shape");
    node.dst = new_value({node.cout, 1, 1, true});
    value_of_[id] = node.dst;
    add_node(id, std::move(node));
  }

  // Reshape/Flatten/Identity that only drop or add trailing 1s: no data moves.
  void pass_through(int id, const cv::Ptr<cv::dnn::Layer>& layer) {
    const std::vector<int> inputs = inputs_of(id);
    const std::vector<cv::dnn::MatShape>& in = in_shapes_.at(id);
    if (inputs.size() != 1 || in.size() != 1) fail(layer, "expected one input");
    auto squeezed = [](cv::dnn::MatShape s) {
      while (s.size() > 2 && s.back() == 1) s.pop_back();
      return s;
    };
    if (squeezed(in[0]) != squeezed(out_shapes_.at(id)[0])) fail(layer, "reshapes data, which is not supported");
    value_of_[id] = value(layer, inputs[0]);
  }

  void add_node(int id, Node node) {
    writer_of_[node.dst] = id;
    producer_of_[node.dst] = model_.nodes.size();
    model_.nodes.push_back(std::move(node));
  }

  cv::dnn::Net& net_;
  cv::dnn::MatShape input_;
  std::vector<std::string> output_names_;
  std::string label_;
  Model model_;
  std::set<int> outputs_;                 // layer ids asked for
  std::map<int, int> value_of_;           // OpenCV layer id -> value id
  std::map<int, std::size_t> producer_of_;  // value id -> node writing it
  std::map<int, int> writer_of_;            // value id -> the OpenCV layer whose output it is last
  std::map<int, std::vector<int>> consumers_;  // among the layers needed
  std::map<int, std::vector<cv::dnn::MatShape>> in_shapes_, out_shapes_;
};

// Everything for one batch size; immutable once built.
struct Plan {
  int batch = 0;
  std::vector<memory::desc> tensors;
  std::vector<std::size_t> offsets;  // of each tensor in the arena
  std::size_t arena_bytes = 0;
  std::vector<Step> steps;
  int input = -1;            // N x C x H x W f32 nchw; run() points it at the caller's blob
  std::vector<int> outputs;  // plain f32 (nchw, or nc for a flat value), in the model's order
  std::size_t scratchpad_bytes = 0;
};

// The weights in their plain order (oihw, goihw with groups, ab for an inner product's oi).
memory::desc plain_weights_desc(const Node& node) {
  static const Tag tags[] = {Tag::undef, Tag::undef, Tag::ab, Tag::undef, Tag::oihw, Tag::goihw};
  return {node.weights_dims, Dt::f32, tags[node.weights_dims.size()]};
}

// Per node (index as in Model::nodes): its weights and bias, if any.
dnnl_plans::LayerConstants layer_constants(const dnnl::engine& engine, const Model& model) {
  dnnl_plans::LayerConstants constants;
  for (const Node& node : model.nodes) {
    const bool has_weights = node.kind == Kind::kConv || node.kind == Kind::kInnerProduct || node.kind == Kind::kPrelu;
    constants.add(engine, has_weights ? plain_weights_desc(node) : memory::desc(), node.weights.data(), node.bias);
  }
  return constants;
}

// Builds the plan for one batch size: one primitive per node, reorders where layouts differ, then
// places the tensors in one arena.
class PlanBuilder : dnnl_plans::PlanBuilderBase<Plan> {
 public:
  PlanBuilder(const dnnl::engine& engine, const Model& model, dnnl_plans::LayerConstants& cache, int batch,
              Dt activations)
      : PlanBuilderBase(engine, batch), model_(model), cache_(cache), activations_(activations) {}

  std::shared_ptr<Plan> build() {
    tensor_of_.assign(model_.values.size(), -1);
    const ValueShape& in = model_.values[0];
    plan_->input = add_tensor(plain_f32(plan_->batch, in.c, in.h, in.w));
    tensor_of_[0] = plan_->input;
    for (std::size_t i = 0; i < model_.nodes.size(); ++i) {
      const Node& node = model_.nodes[i];
      switch (node.kind) {
        case Kind::kConv: conv(i); break;
        case Kind::kEltwise: eltwise(node); break;
        case Kind::kAdd: add(node); break;
        case Kind::kPool: pool(node); break;
        case Kind::kInnerProduct: inner_product(i); break;
        case Kind::kPrelu: prelu(i); break;
        case Kind::kConcat: concat(node); break;
      }
    }
    for (int value : model_.outputs) plan_->outputs.push_back(as_layout(tensor(value), plain(value)));
    place_tensors();
    return plan_;
  }

 private:
  int tensor(int value) const { return tensor_of_[static_cast<std::size_t>(value)]; }
  const ValueShape& shape(int value) const { return model_.values[static_cast<std::size_t>(value)]; }

  memory::dims dims(int value) const {
    const ValueShape& s = shape(value);
    if (s.flat) return {plan_->batch, s.c};
    return {plan_->batch, s.c, s.h, s.w};
  }

  memory::desc plain(int value) const {
    const ValueShape& s = shape(value);
    if (s.flat) return {dims(value), Dt::f32, Tag::nc};
    return plain_f32(plan_->batch, s.c, s.h, s.w);
  }

  // A fresh attr each time: primitive_attr copies share one underlying object.
  static dnnl::primitive_attr attr_with(const std::vector<Eltwise>& post_ops) {
    dnnl::post_ops ops;
    for (const Eltwise& op : post_ops) {
      if (op.sum) {
        ops.append_sum(1.0F);
      } else {
        ops.append_eltwise(1.0F, op.algorithm, op.alpha, op.beta);
      }
    }
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(ops);
    return attr;
  }

  void push(const Node& node, const std::string& impl, dnnl::primitive primitive,
            std::vector<std::pair<int, int>> tensor_args, std::vector<std::pair<int, memory>> constant_args,
            const memory::desc& scratchpad) {
    Step step;
    step.name = node.name + " [" + impl + "]";
    step.primitive = std::move(primitive);
    step.tensor_args = std::move(tensor_args);
    step.constant_args = std::move(constant_args);
    add_step(std::move(step), scratchpad);
  }

  void conv(std::size_t index) {
    const Node& node = model_.nodes[index];
    // A convolution of the f32 input stays f32 (oneDNN's bf16 convolutions read bf16); the next
    // one reorders its input.
    const Dt type = node.src[0] == 0 ? Dt::f32 : activations_;
    const memory::desc src_any(dims(node.src[0]), type, Tag::any);
    const memory::desc weights_any(node.weights_dims, type, Tag::any);
    // With a residual add (sum post-op), onto the shortcut's tensor in the layout it already has.
    const bool sum = has_sum(node);
    const int sum_into = sum ? tensor(node.dst) : -1;
    const memory::desc dst_any = sum ? desc_of(sum_into) : memory::desc(dims(node.dst), type, Tag::any);
    if (dst_any.dims() != dims(node.dst)) throw Error(ErrorCode::kInternal, node.name + ": sum shape mismatch");
    const memory::dims strides = {node.stride[0], node.stride[1]};
    const memory::dims dilates = {node.dilation[0] - 1, node.dilation[1] - 1};
    const memory::dims pad_l = {node.pad_begin[0], node.pad_begin[1]}, pad_r = {node.pad_end[0], node.pad_end[1]};
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto alg = dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::desc desc =
        node.bias.empty()
            ? dnnl::convolution_forward::desc(prop, alg, src_any, weights_any, dst_any, strides, dilates, pad_l, pad_r)
            : dnnl::convolution_forward::desc(prop, alg, src_any, weights_any,
                                              memory::desc({node.cout}, Dt::f32, Tag::x), dst_any, strides, dilates,
                                              pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr_with(node.post_ops), engine_);
    const int src = as_layout(tensor(node.src[0]), pd.src_desc());
    const int dst = sum ? sum_into : add_tensor(pd.dst_desc());
    std::vector<std::pair<int, memory>> constants = {{DNNL_ARG_WEIGHTS, cache_.weights(index, pd.weights_desc())}};
    if (!node.bias.empty()) constants.emplace_back(DNNL_ARG_BIAS, cache_.bias(index));
    push(node, pd.impl_info_str(), dnnl::convolution_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
         std::move(constants), pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  void inner_product(std::size_t index) {
    const Node& node = model_.nodes[index];
    // Reads the activations' type and writes f32: a head, small, whose values are the outputs.
    const Dt type = node.src[0] == 0 ? Dt::f32 : activations_;
    const dnnl::inner_product_forward::desc desc(
        dnnl::prop_kind::forward_inference, memory::desc(dims(node.src[0]), type, Tag::any),
        memory::desc(node.weights_dims, type, Tag::any), memory::desc({node.cout}, Dt::f32, Tag::x),
        memory::desc(dims(node.dst), Dt::f32, Tag::any));
    // Without a bias the model's is zeros (OpenCV adds none either).
    const dnnl::inner_product_forward::primitive_desc pd(desc, attr_with(node.post_ops), engine_);
    const int src = as_layout(tensor(node.src[0]), pd.src_desc());
    const int dst = add_tensor(pd.dst_desc());
    memory bias = cache_.bias(index);
    if (!bias) bias = dnnl_plans::f32_vector(engine_, std::vector<float>(static_cast<std::size_t>(node.cout), 0.0F));
    push(node, pd.impl_info_str(), dnnl::inner_product_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
         {{DNNL_ARG_WEIGHTS, cache_.weights(index, pd.weights_desc())}, {DNNL_ARG_BIAS, bias}}, pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  void eltwise(const Node& node) {
    const int src = tensor(node.src[0]);
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, node.eltwise.algorithm, desc_of(src),
                                           node.eltwise.alpha, node.eltwise.beta);
    const dnnl::eltwise_forward::primitive_desc pd(desc, attr_with({}), engine_);
    const int dst = add_tensor(pd.dst_desc());
    push(node, pd.impl_info_str(), dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {},
         pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  // In place when the reader made it so (dst is src).
  void prelu(std::size_t index) {
    const Node& node = model_.nodes[index];
    const int src = tensor(node.src[0]);
    const dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, desc_of(src),
                                         memory::desc(node.weights_dims, Dt::f32, Tag::any));
    const dnnl::prelu_forward::primitive_desc pd(desc, attr_with({}), engine_);
    const int dst = node.dst == node.src[0] ? src : add_tensor(pd.dst_desc());
    push(node, pd.impl_info_str(), dnnl::prelu_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
         {{DNNL_ARG_WEIGHTS, cache_.weights(index, pd.weights_desc())}}, pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  void add(const Node& node) {
    const int a = tensor(node.src[0]);
    const int b = as_layout(tensor(node.src[1]), desc_of(a));
    const dnnl::binary::desc desc(dnnl::algorithm::binary_add, desc_of(a), desc_of(b), desc_of(a));
    const dnnl::binary::primitive_desc pd(desc, attr_with(node.post_ops), engine_);
    const int dst = add_tensor(pd.dst_desc());
    push(node, pd.impl_info_str(), dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}},
         {}, pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  // Sources in their own layouts (oneDNN reorders as it copies), all of the first one's type.
  void concat(const Node& node) {
    std::vector<memory::desc> sources;
    std::vector<std::pair<int, int>> args;
    const Dt type = desc_of(tensor(node.src[0])).data_type();
    for (std::size_t i = 0; i < node.src.size(); ++i) {
      int source = tensor(node.src[i]);
      if (desc_of(source).data_type() != type) {
        source = as_layout(source, memory::desc(dims(node.src[i]), type, Tag::nchw));
      }
      sources.push_back(desc_of(source));
      args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), source);
    }
    const dnnl::concat::primitive_desc pd(memory::desc(dims(node.dst), type, Tag::any), 1, sources, engine_,
                                          attr_with({}));
    const int dst = add_tensor(pd.dst_desc());
    args.emplace_back(DNNL_ARG_DST, dst);
    push(node, pd.impl_info_str(), dnnl::concat(pd), std::move(args), {}, pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  void pool(const Node& node) {
    const int src = tensor(node.src[0]);
    const dnnl::pooling_forward::desc desc(
        dnnl::prop_kind::forward_inference, node.algorithm, desc_of(src),
        memory::desc(dims(node.dst), desc_of(src).data_type(), Tag::any), {node.stride[0], node.stride[1]},
        {node.kernel[0], node.kernel[1]}, {node.pad_begin[0], node.pad_begin[1]}, {node.pad_end[0], node.pad_end[1]});
    const dnnl::pooling_forward::primitive_desc pd(desc, attr_with({}), engine_);
    const int dst = add_tensor(pd.dst_desc());
    push(node, pd.impl_info_str(), dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {},
         pd.scratchpad_desc());
    tensor_of_[static_cast<std::size_t>(node.dst)] = dst;
  }

  // Greedy by size: each tensor at the lowest offset clear of every placed tensor whose lifetime
  // (first step writing it to last step reading it) overlaps its own. The input takes no room:
  // run() points it at the caller's blob.
  void place_tensors() {
    const std::size_t count = plan_->tensors.size();
    const int last_step = static_cast<int>(plan_->steps.size());
    std::vector<int> first(count, last_step), last(count, -1);
    first[static_cast<std::size_t>(plan_->input)] = -1;
    for (int output : plan_->outputs) last[static_cast<std::size_t>(output)] = last_step;  // read by run() after them
    for (int s = 0; s < last_step; ++s) {
      for (const auto& [arg, tensor] : plan_->steps[static_cast<std::size_t>(s)].tensor_args) {
        first[static_cast<std::size_t>(tensor)] = std::min(first[static_cast<std::size_t>(tensor)], s);
        last[static_cast<std::size_t>(tensor)] = std::max(last[static_cast<std::size_t>(tensor)], s);
      }
    }
    constexpr std::size_t kAlign = 64;
    std::vector<std::size_t> size(count);
    for (std::size_t t = 0; t < count; ++t) size[t] = (plan_->tensors[t].get_size() + kAlign - 1) / kAlign * kAlign;
    size[static_cast<std::size_t>(plan_->input)] = 0;
    std::vector<std::size_t> order(count);
    for (std::size_t t = 0; t < count; ++t) order[t] = t;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return size[a] > size[b]; });

    plan_->offsets.assign(count, 0);
    std::vector<std::size_t> placed;
    for (std::size_t t : order) {
      if (size[t] == 0) continue;
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
  dnnl_plans::LayerConstants& cache_;
  Dt activations_;              // f32, or bf16 (DnnlPrecision::kBF16)
  std::vector<int> tensor_of_;  // value id -> the tensor holding it
};

}  // namespace

bool has_native_bf16() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

struct DnnlGraph::Impl {
  Impl(Model m, DnnlPrecision precision)
      : model(std::move(m)),
        activations(precision == DnnlPrecision::kBF16 ? Dt::bf16 : Dt::f32),
        engine(dnnl::engine::kind::cpu, 0),
        cache(layer_constants(engine, model)) {}

  std::unique_ptr<Workspace> make_workspace(const Plan& plan) const {
    auto ws = std::make_unique<Workspace>();
    ws->stream = dnnl::stream(engine);
    ws->arena = memory({{static_cast<memory::dim>(std::max<std::size_t>(plan.arena_bytes, 1))}, Dt::u8, Tag::x}, engine);
    char* base = static_cast<char*>(ws->arena.get_data_handle());
    for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
      ws->tensors.emplace_back(plan.tensors[t], engine, static_cast<int>(t) == plan.input ? nullptr : base + plan.offsets[t]);
    }
    const memory scratchpad({{static_cast<memory::dim>(std::max<std::size_t>(plan.scratchpad_bytes, 1))}, Dt::u8, Tag::x},
                            engine);
    for (const Step& step : plan.steps) {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, tensor] : step.tensor_args) args.emplace(arg, ws->tensors[static_cast<std::size_t>(tensor)]);
      for (const auto& [arg, mem] : step.constant_args) args.emplace(arg, mem);
      args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad);
      ws->args.push_back(std::move(args));
    }
    return ws;
  }

  Model model;
  Dt activations;
  dnnl::engine engine;
  mutable dnnl_plans::LayerConstants cache;  // filled while plans are built, under plans's lock
  dnnl_plans::PlanSet<Plan, Workspace> plans{
      [this](int key) -> std::shared_ptr<const Plan> {  // key: the batch; PlanSet adds the thread count
        return PlanBuilder(engine, model, cache, key, activations).build();
      },
      [this](const Plan& plan) { return make_workspace(plan); }};
};

DnnlGraph::DnnlGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DnnlGraph::~DnnlGraph() = default;

std::unique_ptr<DnnlGraph> DnnlGraph::from(cv::dnn::Net& net, const cv::dnn::MatShape& input,
                                           const std::vector<std::string>& outputs, const std::string& label,
                                           DnnlPrecision precision) {
  if (precision == DnnlPrecision::kBF16 && !has_native_bf16()) {
    throw Error(ErrorCode::kInvalidArgument,
                label + ": bf16 needs a CPU with native bf16 (avx512_bf16 or AMX); oneDNN reports none");
  }
  Model model;
  try {
    model = GraphReader(net, input, outputs, label).read();
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, label + ": OpenCV cannot describe the network (" + std::string(e.err) + ")");
  }
  std::unique_ptr<DnnlGraph> graph(new DnnlGraph(std::make_unique<Impl>(std::move(model), precision)));
  try {
    // So unsupported primitives surface now, not on first use. Its weight reorders run on OpenMP
    // too: on the engine's thread count, as run().
    const dnnl_plans::EngineThreads threads;
    graph->impl_->plans.lease(input[0]);
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kModelCorrupt, label + ": oneDNN cannot run the graph (" + e.what() + ")");
  }
  return graph;
}

std::vector<cv::Mat> DnnlGraph::run(const cv::Mat& blob) const {
  const ValueShape& in = impl_->model.values[0];
  if (blob.dims != 4 || blob.type() != CV_32F || !blob.isContinuous() || blob.size[0] < 1 || blob.size[1] != in.c ||
      blob.size[2] != in.h || blob.size[3] != in.w) {
    throw Error(ErrorCode::kInvalidArgument, "oneDNN graph: expected a continuous N x " + std::to_string(in.c) + " x " +
                                                 std::to_string(in.h) + " x " + std::to_string(in.w) + " f32 blob");
  }
  const int batch = blob.size[0];
  // On the engine's thread count; PlanSet keeps a plan per batch and thread count (dnnl_plans.hpp).
  const dnnl_plans::EngineThreads threads;
  std::vector<cv::Mat> result;
  try {
    auto lease = impl_->plans.lease(batch);
    const Plan& plan = lease.plan();
    Workspace& ws = lease.workspace();
    // The primitives only read the input, so the caller's blob is used in place.
    ws.tensors[static_cast<std::size_t>(plan.input)].set_data_handle(const_cast<uchar*>(blob.data));
    for (std::size_t s = 0; s < plan.steps.size(); ++s) plan.steps[s].primitive.execute(ws.stream, ws.args[s]);
    ws.stream.wait();
    ws.tensors[static_cast<std::size_t>(plan.input)].set_data_handle(nullptr);
    for (std::size_t k = 0; k < plan.outputs.size(); ++k) {
      cv::dnn::MatShape shape = impl_->model.output_shapes[k];
      shape[0] = batch;
      cv::Mat out(static_cast<int>(shape.size()), shape.data(), CV_32F);
      const memory& tensor = ws.tensors[static_cast<std::size_t>(plan.outputs[k])];
      const std::size_t bytes = tensor.get_desc().get_size();
      if (bytes != out.total() * sizeof(float)) throw Error(ErrorCode::kInternal, "oneDNN graph: output size mismatch");
      std::memcpy(out.data, tensor.get_data_handle(), bytes);
      result.push_back(std::move(out));
    }
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kInternal, std::string("oneDNN graph: ") + e.what());
  }
  return result;
}

}  // namespace siamface
