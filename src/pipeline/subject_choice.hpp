// The last step of Engine::choose_subject, for callers that already hold the candidates (enrolment
// counts them first, and must not ask the confirming detector twice). Internal to src/pipeline/.
#pragma once

#include <vector>

#include "siamface/engine.hpp"

namespace siamface {

// choose_face among faces[candidates] (Engine::subject_candidates' indices): an index into
// `faces`, or -1 when `candidates` is empty.
int choose_among(const std::vector<Face>& faces, const std::vector<int>& candidates, int image_width,
                 int image_height, FaceChoice choice);

}  // namespace siamface
