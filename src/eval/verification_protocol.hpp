// Verification metrics: the LFW 10-fold protocol, ROC points and threshold search.
// Shared by `eval lfw` and `calibrate`.
#pragma once

#include <cstddef>
#include <vector>

namespace siamface {

struct ScoredPair {
  float distance = 0.0F;  // Euclidean; ignored when !valid
  bool same = false;      // ground truth
  int fold = 0;           // 0-based
  bool valid = true;      // false: a face was missing, the pair counts as wrong
};

struct TenFoldResult {
  std::vector<double> fold_accuracy;   // every pair counted, invalid ones as wrong
  std::vector<double> fold_threshold;  // picked on the other folds
  double mean_accuracy = 0.0;
  double std_accuracy = 0.0;
  double mean_accuracy_valid_only = 0.0;  // same protocol over valid pairs only
};

// The threshold that maximises accuracy over the valid pairs (midpoints between sorted
// distances; ties go to the smallest). Pairs with distance < threshold are called "same".
double best_threshold(const std::vector<ScoredPair>& pairs);

// Accuracy at a fixed threshold; invalid pairs count as wrong unless `valid_only`.
double accuracy_at(const std::vector<ScoredPair>& pairs, double threshold, bool valid_only = false);

// For each fold: threshold from the other folds, accuracy on this fold.
TenFoldResult ten_fold(const std::vector<ScoredPair>& pairs, int folds = 10);

struct RocPoint {
  double threshold = 0.0;
  double false_accept_rate = 0.0;  // impostor pairs called same
  double true_accept_rate = 0.0;   // genuine pairs called same
};

// One point per distinct threshold over valid pairs, FAR ascending.
std::vector<RocPoint> roc_curve(const std::vector<ScoredPair>& pairs);

// Equal-error rate and the threshold where FAR ~= FRR.
struct EqualErrorRate {
  double rate = 0.0;
  double threshold = 0.0;
};
EqualErrorRate equal_error_rate(const std::vector<RocPoint>& roc);

// The largest threshold whose FAR does not exceed `far` (0 if none).
double threshold_at_far(const std::vector<RocPoint>& roc, double far);

// A rate measured as `events` of `trials`, with its 95 % Wilson score interval (which, unlike
// the normal approximation, stays inside [0, 1] and is not empty at 0 events).
struct RateInterval {
  double rate = 0.0;
  double low = 0.0;
  double high = 1.0;
};
RateInterval wilson_interval(std::size_t events, std::size_t trials);

}  // namespace siamface
