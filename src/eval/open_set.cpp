#include "eval/open_set.hpp"

#include <map>

#include "pipeline/fused_embedding.hpp"

namespace siamface {

OpenSetStats& OpenSetStats::operator+=(const OpenSetStats& other) {
  known_probes += other.known_probes;
  named_correctly += other.named_correctly;
  named_wrongly += other.named_wrongly;
  rank1_correct += other.rank1_correct;
  stranger_probes += other.stranger_probes;
  strangers_accepted += other.strangers_accepted;
  return *this;
}

OpenSetStats open_set_trial(const std::vector<LabelledFace>& faces, const std::set<std::string>& enrolled,
                            const DecisionRule& rule, IdentityDistance distance) {
  EmbeddingIndexOptions index_options;
  index_options.threads = 1;
  EmbeddingIndex index(index_options);
  std::vector<bool> is_enrolment(faces.size(), false);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    if (!enrolled.count(faces[i].person) || seen.count(faces[i].person)) continue;
    seen.insert(faces[i].person);
    is_enrolment[i] = true;
    index.add("face" + std::to_string(i), faces[i].person, faces[i].embedding);
  }
  OpenSetStats stats;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    if (is_enrolment[i]) continue;
    const std::vector<IdentityMatch> matches = index.search(faces[i].embedding, 2, distance);
    std::vector<Candidate> candidates;
    for (const IdentityMatch& match : matches) {
      Candidate candidate{match.person, match.distance};
      // As identify_faces does for the fused recognizer (NaN for the others: no agreement check).
      candidate.second_network_distance = fused_second_network_distance(faces[i].embedding, index.matched_embedding(match));
      candidates.push_back(std::move(candidate));
    }
    const Decision decision = decide_names({candidates}, {faces[i].quality}, rule).front();
    if (enrolled.count(faces[i].person)) {
      ++stats.known_probes;
      if (!matches.empty() && matches.front().person == faces[i].person) ++stats.rank1_correct;
      if (decision.known) ++(decision.person == faces[i].person ? stats.named_correctly : stats.named_wrongly);
    } else {
      ++stats.stranger_probes;
      if (decision.known) ++stats.strangers_accepted;
    }
  }
  return stats;
}

std::pair<std::set<std::string>, std::set<std::string>> split_people(const std::vector<LabelledFace>& faces) {
  std::set<std::string> people;
  for (const LabelledFace& face : faces) people.insert(face.person);
  std::pair<std::set<std::string>, std::set<std::string>> halves;
  int position = 0;
  for (const std::string& person : people) (position++ % 2 == 0 ? halves.first : halves.second).insert(person);
  return halves;
}

}  // namespace siamface
