// Floating-point operations of one forward pass, for the speed benches' "time against the CPU's
// peak" figures.
#pragma once

#include <cstdint>
#include <opencv2/dnn.hpp>

namespace siamface {

// Multiply-adds counted as two operations, for the given input shape. OpenCV 4.6's
// Net::getFLOPS counts a grouped (depthwise) convolution as if every output channel read every
// input channel, which overstates a MobileFaceNet about eightfold; convolutions are counted here
// from their weights' shape, every other layer as OpenCV counts it.
std::int64_t count_flops(cv::dnn::Net& net, const cv::dnn::MatShape& input);

}  // namespace siamface
