#include "model/dnn_graph.hpp"

#include "siamface/errors.hpp"

namespace siamface {
namespace {

void require_rank(const WeightTensor& t, std::size_t rank) {
  if (t.shape.size() != rank || t.values.size() != t.element_count()) {
    throw Error(ErrorCode::kModelCorrupt, "tensor '" + t.name + "' has rank " +
                                              std::to_string(t.shape.size()) + ", expected " +
                                              std::to_string(rank));
  }
}

void set_padding(cv::dnn::LayerParams& params, Padding padding) {
  params.set("pad_mode", padding == Padding::kSame ? "SAME" : "VALID");
}

}  // namespace

cv::Mat conv_filters_from_tf(const WeightTensor& filters) {
  require_rank(filters, 4);
  const int kh = filters.shape[0], kw = filters.shape[1], cin = filters.shape[2], cout = filters.shape[3];
  const int dims[] = {cout, cin, kh, kw};
  cv::Mat out(4, dims, CV_32F);
  float* dst = out.ptr<float>();
  for (int y = 0; y < kh; ++y)
    for (int x = 0; x < kw; ++x)
      for (int i = 0; i < cin; ++i)
        for (int o = 0; o < cout; ++o)
          dst[((o * cin + i) * kh + y) * kw + x] = filters.values[((y * kw + x) * cin + i) * cout + o];
  return out;
}

cv::Mat depthwise_filters_from_tf(const WeightTensor& filters) {
  require_rank(filters, 4);
  const int kh = filters.shape[0], kw = filters.shape[1], channels = filters.shape[2];
  if (filters.shape[3] != 1) {
    throw Error(ErrorCode::kModelCorrupt, "tensor '" + filters.name + "': depth multiplier must be 1");
  }
  const int dims[] = {channels, 1, kh, kw};
  cv::Mat out(4, dims, CV_32F);
  float* dst = out.ptr<float>();
  for (int y = 0; y < kh; ++y)
    for (int x = 0; x < kw; ++x)
      for (int c = 0; c < channels; ++c) dst[(c * kh + y) * kw + x] = filters.values[(y * kw + x) * channels + c];
  return out;
}

cv::Mat dense_from_tf(const WeightTensor& weights) {
  require_rank(weights, 2);
  const int in = weights.shape[0], out_dim = weights.shape[1];
  cv::Mat out(out_dim, in, CV_32F);
  for (int i = 0; i < in; ++i)
    for (int o = 0; o < out_dim; ++o) out.at<float>(o, i) = weights.values[i * out_dim + o];
  return out;
}

cv::Mat vector_mat(const std::vector<float>& values) {
  return cv::Mat(1, static_cast<int>(values.size()), CV_32F, const_cast<float*>(values.data())).clone();
}

int DnnGraph::add_layer(const std::string& type, cv::dnn::LayerParams& params,
                        const std::vector<int>& inputs) {
  const std::string name = type + "_" + std::to_string(names_.size());
  params.name = name;
  params.type = type;
  const int id = net_.addLayer(name, type, params);
  for (std::size_t i = 0; i < inputs.size(); ++i) net_.connect(inputs[i], 0, id, static_cast<int>(i));
  if (id != static_cast<int>(names_.size())) {
    throw Error(ErrorCode::kInternal, "unexpected layer id from OpenCV DNN");
  }
  names_.push_back(name);
  return id;
}

int DnnGraph::conv(int input, const cv::Mat& filters, const cv::Mat& bias, int stride, Padding padding,
                   int group) {
  cv::dnn::LayerParams params;
  params.set("kernel_h", filters.size[2]);
  params.set("kernel_w", filters.size[3]);
  params.set("stride_h", stride);
  params.set("stride_w", stride);
  params.set("num_output", filters.size[0]);
  params.set("group", group);
  params.set("bias_term", !bias.empty());
  set_padding(params, padding);
  params.blobs.push_back(filters);
  if (!bias.empty()) params.blobs.push_back(bias);
  return add_layer("Convolution", params, {input});
}

int DnnGraph::depthwise_conv(int input, const cv::Mat& filters, const cv::Mat& bias, int stride,
                             Padding padding) {
  return conv(input, filters, bias, stride, padding, filters.size[0]);
}

int DnnGraph::dense(int input, const cv::Mat& weights, const cv::Mat& bias) {
  cv::dnn::LayerParams params;
  params.set("num_output", weights.rows);
  params.set("bias_term", !bias.empty());
  params.set("axis", 1);
  params.blobs.push_back(weights);
  if (!bias.empty()) params.blobs.push_back(bias);
  return add_layer("InnerProduct", params, {input});
}

int DnnGraph::scale(int input, const cv::Mat& multiplier, const cv::Mat& bias) {
  cv::dnn::LayerParams params;
  params.set("bias_term", !bias.empty());
  params.set("axis", 1);
  params.blobs.push_back(multiplier);
  if (!bias.empty()) params.blobs.push_back(bias);
  return add_layer("Scale", params, {input});
}

int DnnGraph::relu(int input) {
  cv::dnn::LayerParams params;
  return add_layer("ReLU", params, {input});
}

int DnnGraph::relu6(int input) {
  cv::dnn::LayerParams params;
  params.set("min_value", 0.0F);
  params.set("max_value", 6.0F);
  return add_layer("ReLU6", params, {input});
}

int DnnGraph::leaky_relu(int input, float slope) {
  cv::dnn::LayerParams params;
  params.set("negative_slope", slope);
  return add_layer("ReLU", params, {input});
}

int DnnGraph::sigmoid(int input) {
  cv::dnn::LayerParams params;
  return add_layer("Sigmoid", params, {input});
}

int DnnGraph::add(int a, int b) {
  cv::dnn::LayerParams params;
  params.set("operation", "sum");
  return add_layer("Eltwise", params, {a, b});
}

int DnnGraph::max_pool(int input, int kernel, int stride, Padding padding) {
  cv::dnn::LayerParams params;
  params.set("pool", "max");
  params.set("kernel_size", kernel);
  params.set("stride", stride);
  params.set("ceil_mode", false);
  set_padding(params, padding);
  return add_layer("Pooling", params, {input});
}

int DnnGraph::avg_pool(int input, int kernel, int stride, Padding padding) {
  cv::dnn::LayerParams params;
  params.set("pool", "ave");
  params.set("kernel_size", kernel);
  params.set("stride", stride);
  params.set("ceil_mode", false);
  // TF averages over valid elements only at the borders.
  params.set("ave_pool_padded_area", false);
  set_padding(params, padding);
  return add_layer("Pooling", params, {input});
}

int DnnGraph::global_avg_pool(int input) {
  cv::dnn::LayerParams params;
  params.set("pool", "ave");
  params.set("global_pooling", true);
  return add_layer("Pooling", params, {input});
}

int DnnGraph::zero_pad(int input, int extra_channels, int extra_rows, int extra_cols) {
  cv::dnn::LayerParams params;
  const int paddings[] = {0, 0, 0, extra_channels, 0, extra_rows, 0, extra_cols};
  params.set("paddings", cv::dnn::DictValue::arrayInt(paddings, 8));
  params.set("value", 0.0F);
  return add_layer("Padding", params, {input});
}

int DnnGraph::concat(const std::vector<int>& inputs, int axis) {
  cv::dnn::LayerParams params;
  params.set("axis", axis);
  return add_layer("Concat", params, inputs);
}

}  // namespace siamface
