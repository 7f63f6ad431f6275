// One-shot open-set trials: enrol one face per chosen person, probe with every other face,
// and count who is named right, named wrong, or called unknown. Used by the identification
// tests (asserted floors) and by bench/open_set_bench (the decision-rule sweep).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "siamface/gallery.hpp"
#include "siamface/decision.hpp"

namespace siamface {

struct LabelledFace {
  std::string person;
  Embedding embedding{};
  FaceQuality quality;
};

struct OpenSetStats {
  int known_probes = 0;     // probes of enrolled people
  int named_correctly = 0;  // ... given their own name
  int named_wrongly = 0;    // ... given someone else's name
  int rank1_correct = 0;    // ... whose nearest identity is their own, whatever the threshold
  int stranger_probes = 0;  // probes of people never enrolled
  int strangers_accepted = 0;

  double named_rate() const { return known_probes ? double(named_correctly) / known_probes : 0.0; }
  double rank1_rate() const { return known_probes ? double(rank1_correct) / known_probes : 0.0; }
  double stranger_accept_rate() const { return stranger_probes ? double(strangers_accepted) / stranger_probes : 0.0; }
  OpenSetStats& operator+=(const OpenSetStats& other);
};

// `faces` in a fixed order: the first face of each person in `enrolled` is its one-shot
// enrolment; all other faces are probes, each decided alone with `rule`.
OpenSetStats open_set_trial(const std::vector<LabelledFace>& faces, const std::set<std::string>& enrolled,
                            const DecisionRule& rule, IdentityDistance distance = IdentityDistance::kMin);

// The people of `faces` split in two halves by sorted name (even / odd positions).
std::pair<std::set<std::string>, std::set<std::string>> split_people(const std::vector<LabelledFace>& faces);

}  // namespace siamface
