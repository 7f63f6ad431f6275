#include "model/dnn_flops.hpp"

#include <opencv2/dnn/shape_utils.hpp>

#include <string>
#include <vector>

namespace siamface {

std::int64_t count_flops(cv::dnn::Net& net, const cv::dnn::MatShape& input) {
  std::int64_t flops = 0;
  for (const std::string& name : net.getLayerNames()) {
    const int id = net.getLayerId(name);
    const cv::Ptr<cv::dnn::Layer> layer = net.getLayer(id);
    if (layer->type != "Convolution" || layer->blobs.empty()) {
      flops += net.getFLOPS(id, input);
      continue;
    }
    std::vector<cv::dnn::MatShape> inputs, outputs;
    net.getLayerShapes(input, id, inputs, outputs);
    // Weights are [out channels, in channels / groups, kernel rows, kernel cols]: one output value
    // costs one multiply-add per weight of its filter, plus its bias.
    const cv::Mat& weights = layer->blobs[0];
    const std::int64_t per_output = static_cast<std::int64_t>(weights.total() / weights.size[0]);
    for (const cv::dnn::MatShape& output : outputs) {
      flops += static_cast<std::int64_t>(cv::dnn::total(output)) * (2 * per_output + 1);
    }
  }
  return flops;
}

}  // namespace siamface
