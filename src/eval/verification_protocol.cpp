#include "eval/verification_protocol.hpp"

#include <algorithm>
#include <cmath>

namespace siamface {

double accuracy_at(const std::vector<ScoredPair>& pairs, double threshold, bool valid_only) {
  std::size_t correct = 0, counted = 0;
  for (const ScoredPair& pair : pairs) {
    if (!pair.valid) {
      if (!valid_only) ++counted;
      continue;
    }
    ++counted;
    if ((pair.distance < threshold) == pair.same) ++correct;
  }
  return counted ? static_cast<double>(correct) / static_cast<double>(counted) : 0.0;
}

double best_threshold(const std::vector<ScoredPair>& pairs) {
  std::vector<const ScoredPair*> valid;
  for (const ScoredPair& pair : pairs)
    if (pair.valid) valid.push_back(&pair);
  if (valid.empty()) return 0.6;
  std::sort(valid.begin(), valid.end(), [](auto* a, auto* b) { return a->distance < b->distance; });
  // Sweep: with the threshold just above valid[i], pairs 0..i are called same.
  std::size_t different_total = 0;
  for (auto* pair : valid) different_total += pair->same ? 0 : 1;
  std::size_t correct = different_total;  // threshold below everything: all called different
  std::size_t best_correct = correct;
  double best = valid.front()->distance - 1e-3;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    correct += valid[i]->same ? 1 : 0;
    correct -= valid[i]->same ? 0 : 1;
    const bool last_of_tie = i + 1 == valid.size() || valid[i + 1]->distance != valid[i]->distance;
    if (last_of_tie && correct > best_correct) {
      best_correct = correct;
      best = i + 1 < valid.size() ? (valid[i]->distance + valid[i + 1]->distance) / 2.0
                                  : valid[i]->distance + 1e-3;
    }
  }
  return best;
}

TenFoldResult ten_fold(const std::vector<ScoredPair>& pairs, int folds) {
  TenFoldResult result;
  double sum = 0.0, sum_valid = 0.0;
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<ScoredPair> train, test;
    for (const ScoredPair& pair : pairs) (pair.fold == fold ? test : train).push_back(pair);
    const double threshold = best_threshold(train);
    const double accuracy = accuracy_at(test, threshold);
    result.fold_threshold.push_back(threshold);
    result.fold_accuracy.push_back(accuracy);
    sum += accuracy;
    sum_valid += accuracy_at(test, threshold, /*valid_only=*/true);
  }
  result.mean_accuracy = sum / folds;
  result.mean_accuracy_valid_only = sum_valid / folds;
  double variance = 0.0;
  for (double a : result.fold_accuracy) variance += (a - result.mean_accuracy) * (a - result.mean_accuracy);
  result.std_accuracy = std::sqrt(variance / folds);
  return result;
}

std::vector<RocPoint> roc_curve(const std::vector<ScoredPair>& pairs) {
  std::vector<const ScoredPair*> valid;
  std::size_t genuine = 0, impostor = 0;
  for (const ScoredPair& pair : pairs) {
    if (!pair.valid) continue;
    valid.push_back(&pair);
    (pair.same ? genuine : impostor) += 1;
  }
  std::sort(valid.begin(), valid.end(), [](auto* a, auto* b) { return a->distance < b->distance; });
  std::vector<RocPoint> roc{{valid.empty() ? 0.0 : valid.front()->distance, 0.0, 0.0}};
  std::size_t accepted_genuine = 0, accepted_impostor = 0;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    (valid[i]->same ? accepted_genuine : accepted_impostor) += 1;
    if (i + 1 < valid.size() && valid[i + 1]->distance == valid[i]->distance) continue;
    // Threshold just above this distance accepts pairs 0..i.
    const double threshold = i + 1 < valid.size() ? (valid[i]->distance + valid[i + 1]->distance) / 2.0
                                                  : valid[i]->distance + 1e-3;
    roc.push_back({threshold, impostor ? double(accepted_impostor) / impostor : 0.0,
                   genuine ? double(accepted_genuine) / genuine : 0.0});
  }
  return roc;
}

EqualErrorRate equal_error_rate(const std::vector<RocPoint>& roc) {
  EqualErrorRate best{1.0, 0.0};
  double best_gap = 2.0;
  for (const RocPoint& point : roc) {
    const double frr = 1.0 - point.true_accept_rate;
    const double gap = std::abs(frr - point.false_accept_rate);
    if (gap < best_gap) {
      best_gap = gap;
      best = {(frr + point.false_accept_rate) / 2.0, point.threshold};
    }
  }
  return best;
}

RateInterval wilson_interval(std::size_t events, std::size_t trials) {
  if (trials == 0) return {};
  constexpr double kZ = 1.959964;  // 95 %, two-sided
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(events) / n;
  const double z2 = kZ * kZ;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = kZ * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {p, std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double threshold_at_far(const std::vector<RocPoint>& roc, double far) {
  double threshold = 0.0;
  for (const RocPoint& point : roc)
    if (point.false_accept_rate <= far) threshold = std::max(threshold, point.threshold);
  return threshold;
}

}  // namespace siamface
