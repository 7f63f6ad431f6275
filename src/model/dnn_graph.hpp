// A small vocabulary for building cv::dnn::Net graphs from TF-layout weights.
// OpenCV DNN has no importer for TF.js, so each face-api topology is rebuilt by hand from
// its TypeScript reference; this keeps those builders short and uniform.
#pragma once

#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "model/tfjs_weights.hpp"

namespace siamface {

enum class Padding { kValid, kSame };

// Conversions from TF layouts to OpenCV's.
cv::Mat conv_filters_from_tf(const WeightTensor& filters);       // [kh,kw,cin,cout] -> [cout,cin,kh,kw]
cv::Mat depthwise_filters_from_tf(const WeightTensor& filters);  // [kh,kw,c,1] -> [c,1,kh,kw]
cv::Mat dense_from_tf(const WeightTensor& weights);              // [in,out] -> [out,in]
cv::Mat vector_mat(const std::vector<float>& values);            // 1 x n

// Builds one network. Layer ids are returned by each call; output 0 of that layer is used.
// id 0 is the network input. Not thread-safe; build once per inference session.
class DnnGraph {
 public:
  static constexpr int kInput = 0;

  // Convolution; `filters` is OpenCV layout [cout, cin/group, kh, kw]; empty bias = none.
  int conv(int input, const cv::Mat& filters, const cv::Mat& bias, int stride, Padding padding,
           int group = 1);
  int depthwise_conv(int input, const cv::Mat& filters, const cv::Mat& bias, int stride, Padding padding);
  int dense(int input, const cv::Mat& weights, const cv::Mat& bias);  // weights [out, in]
  int scale(int input, const cv::Mat& multiplier, const cv::Mat& bias);  // per channel
  int relu(int input);
  int relu6(int input);
  int leaky_relu(int input, float slope);
  int add(int a, int b);
  int max_pool(int input, int kernel, int stride, Padding padding);
  int avg_pool(int input, int kernel, int stride, Padding padding);
  int global_avg_pool(int input);
  // Zero padding of an NCHW blob: extra channels at the end, extra rows at the bottom, extra
  // columns at the right.
  int zero_pad(int input, int extra_channels, int extra_rows, int extra_cols);
  int concat(const std::vector<int>& inputs, int axis = 1);
  int sigmoid(int input);

  cv::dnn::Net& net() { return net_; }
  // Name of a layer for Net::forward(name).
  std::string name_of(int id) const { return names_.at(static_cast<std::size_t>(id)); }

 private:
  int add_layer(const std::string& type, cv::dnn::LayerParams& params, const std::vector<int>& inputs);

  cv::dnn::Net net_;
  std::vector<std::string> names_{"_input"};
};

}  // namespace siamface
