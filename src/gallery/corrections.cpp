// Gallery's corrections (docs/unknown-faces.md): merging two people, splitting faces off one,
// and negative examples ("this face is not <person>") for the decision rule.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "gallery/gallery_impl.hpp"
#include "gallery/posix_files.hpp"
#include "gallery/validation.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface {

using gallery::WriteEffects;
using gallery::WriteScope;

std::size_t Gallery::merge_people(const std::string& from, const std::string& into) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  for (const std::string* name : {&from, &into}) {
    if (im.store->count_faces_of(*name) == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + *name + "' in gallery " + im.location());
    }
  }
  if (from == into) throw Error(ErrorCode::kInvalidArgument, "merge: '" + from + "' cannot be merged into itself");
  WriteScope txn(*im.store);
  WriteEffects effects{.negatives_changed = true};
  const std::size_t moved = im.move_person_locked(from, into, effects);
  im.store->move_negatives(from, into);
  im.commit(txn, std::move(effects));
  return moved;
}

std::size_t Gallery::split_faces(const std::string& person, const std::vector<std::string>& face_ids,
                                 const std::string& to) {
  gallery::validate_person(to, "split: ");
  if (face_ids.empty()) throw Error(ErrorCode::kInvalidArgument, "split: no faces listed");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  if (im.store->count_faces_of(person) == 0) {
    throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
  }
  WriteScope txn(*im.store);
  WriteEffects effects;
  for (const std::string& id : face_ids) {
    std::optional<GalleryFace> f = im.store->face(id);
    if (!f || f->person != person) {
      throw Error(ErrorCode::kInvalidArgument, "split: face " + id + " is not one of '" + person + "''s faces");
    }
    if (person == to) continue;
    if (im.store->face_with_image(to, f->image_sha256)) {
      im.store->delete_face(id);  // `to` has this photo already
      effects.removed_faces.push_back(id);
      continue;
    }
    im.store->move_face(id, to);
    f->person = to;
    effects.refiled_faces.push_back(std::move(*f));
  }
  const std::size_t moved = effects.refiled_faces.size();
  im.commit(txn, std::move(effects));
  return moved;
}

std::string Gallery::mark_not(const std::string& face_id) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  WriteScope txn(*im.store);
  const std::optional<GalleryFace> f = im.store->face(face_id);
  if (!f) throw Error(ErrorCode::kNotFound, "no face with id " + face_id + " in gallery " + im.location());
  NegativeExample negative{gallery::new_face_id(), f->person, f->source_path, f->embedding, gallery::now_unix_ms()};
  im.store->delete_face(face_id);
  im.store->insert_negative(negative);
  im.commit(txn, {.removed_faces = {face_id}, .negatives_changed = true, .rows_removed = true});
  return f->person;
}

std::string Gallery::add_negative(const std::string& person, const Embedding& embedding, const ModelInfo& model,
                                  const std::string& source_path) {
  for (float v : embedding) gallery::require_finite(v, "negative example: ", "embedding");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  NegativeExample negative{gallery::new_face_id(), person, source_path, embedding, gallery::now_unix_ms()};
  {
    WriteScope txn(*im.store);
    if (im.store->count_faces_of(person) == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
    }
    if (const auto current = im.store->read_model(); current && !gallery::same_model(*current, model)) {
      gallery::throw_model_mismatch(im.location(), *current, model);
    }
    if (im.index.dimensions() != 0 && embedding.size() != im.index.dimensions()) {
      throw Error(ErrorCode::kInvalidArgument, "negative example: embedding has " + std::to_string(embedding.size()) +
                                                   " values, the gallery holds " +
                                                   std::to_string(im.index.dimensions()) + " per face");
    }
    im.store->insert_negative(negative);
    im.commit(txn, {.negatives_changed = true});
  }
  return negative.id;
}

std::vector<NegativeExample> Gallery::negatives(const std::string* person) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->negatives(person);
}

std::vector<std::pair<std::string, float>> Gallery::nearest_negatives(const Embedding& query) const {
  std::shared_lock lock(impl_->index_mutex);
  std::map<std::string, float> nearest;
  for (const NegativeExample& n : impl_->negatives) {
    if (n.embedding.size() != query.size()) continue;
    const float d = euclidean_distance(n.embedding, query);
    auto [it, inserted] = nearest.emplace(n.person, d);
    if (!inserted) it->second = std::min(it->second, d);
  }
  return {nearest.begin(), nearest.end()};
}

}  // namespace siamface
