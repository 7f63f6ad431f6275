// Small charts for evaluation and calibration reports (PNG via save_image).
#pragma once

#include <string>
#include <vector>

#include "eval/verification_protocol.hpp"
#include "siamface/types.hpp"

namespace siamface {

// ROC with a log-scale false-accept axis (1e-3 .. 1) and linear true-accept axis.
Image plot_roc(const std::vector<RocPoint>& roc, const std::string& title);

// Overlaid histograms of genuine (green) and impostor (red) distances, with a marker at
// `threshold`.
Image plot_distance_histogram(const std::vector<float>& genuine, const std::vector<float>& impostor,
                              double threshold, const std::string& title);

}  // namespace siamface
