// Gallery's unknown faces (docs/unknown-faces.md): the faces nobody matched, kept under the
// gallery's policy, grouped into clusters, and promoted to a person or dismissed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "gallery/gallery_impl.hpp"
#include "gallery/posix_files.hpp"
#include "gallery/validation.hpp"
#include "siamface/clustering.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface {

using gallery::check_page;
using gallery::ReadScope;
using gallery::WriteEffects;
using gallery::WriteScope;

namespace {

std::int64_t parse_setting_int(const std::optional<std::string>& text, std::int64_t fallback, const char* key) {
  if (!text) return fallback;
  try {
    std::size_t used = 0;
    const long long value = std::stoll(*text, &used);
    if (used == text->size() && value > 0) return value;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kGallery, std::string("gallery setting '") + key + "' is not a positive whole number: '" +
                                       *text + "'");
}

constexpr std::int64_t kMsPerDay = 24LL * 60 * 60 * 1000;

}  // namespace

UnknownPolicy Gallery::unknown_policy() const {
  std::lock_guard lock(impl_->db_mutex);
  UnknownPolicy policy;
  const auto keep = impl_->store->setting(kKeepUnknownSetting);
  policy.keep = keep && *keep == "true";
  policy.max_faces =
      parse_setting_int(impl_->store->setting(kUnknownMaxFacesSetting), kDefaultUnknownMaxFaces, kUnknownMaxFacesSetting);
  policy.max_age_days = parse_setting_int(impl_->store->setting(kUnknownMaxAgeDaysSetting), kDefaultUnknownMaxAgeDays,
                                          kUnknownMaxAgeDaysSetting);
  return policy;
}

UnknownAddStatus Gallery::add_unknown(const UnknownFace& input) {
  GalleryFace checked = input.face;
  checked.person = "unknown face";  // the person rule does not apply; everything else does
  gallery::validate_face(checked, "unknown face: ");
  if (input.source_key.empty()) throw Error(ErrorCode::kInvalidArgument, "unknown face: source_key is empty");
  const UnknownPolicy policy = unknown_policy();
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  {
    WriteScope txn(*im.store);
    const std::optional<ModelInfo> current = im.store->read_model();
    if (!current || (!gallery::same_model(*current, input.face.model) && im.store->count_faces() == 0 &&
                     im.store->count_unknown() == 0)) {
      im.store->write_model(input.face.model);
    } else if (!gallery::same_model(*current, input.face.model)) {
      gallery::throw_model_mismatch(im.location(), *current, input.face.model);
    }
    for (const Embedding& kept : im.store->unknown_embeddings_with_key(input.source_key)) {
      if (kept.size() == input.face.embedding.size() &&
          euclidean_distance(kept, input.face.embedding) < kUnknownDedupDistance) {
        return UnknownAddStatus::kDuplicate;  // the scope rolls back: nothing was written
      }
    }
    UnknownFace u = input;
    u.face.person.clear();
    u.cluster.reset();
    if (u.face.id.empty()) u.face.id = gallery::new_face_id();
    if (u.face.created_unix_ms == 0) u.face.created_unix_ms = gallery::now_unix_ms();
    im.store->insert_unknown(u);
    im.store->delete_unknown_before(gallery::now_unix_ms() - policy.max_age_days * kMsPerDay);
    im.store->delete_unknown_beyond(policy.max_faces);
    im.commit(txn, {.first_model = input.face.model});
  }
  return UnknownAddStatus::kAdded;
}

UnknownPage Gallery::list_unknown(std::int64_t offset, std::int64_t limit) const {
  check_page(offset, limit);
  std::lock_guard lock(impl_->db_mutex);
  ReadScope read(*impl_->store);
  UnknownPage page;
  page.total = impl_->store->count_unknown();
  page.items = impl_->store->unknown_page(offset, limit);
  return page;
}

std::optional<UnknownFace> Gallery::unknown_face(const std::string& id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->unknown_face(id);
}

std::size_t Gallery::purge_unknown(bool all) {
  const UnknownPolicy policy = unknown_policy();
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    if (all) {
      removed = im.store->delete_all_unknown();
    } else {
      removed = im.store->delete_unknown_before(gallery::now_unix_ms() - policy.max_age_days * kMsPerDay);
      removed += im.store->delete_unknown_beyond(policy.max_faces);
    }
    im.commit(txn, {.rows_removed = removed > 0});
  }
  return removed;
}

ClusterResult Gallery::cluster_unknown(const ClusterOptions& options) {
  if (!(options.threshold > 0) || !std::isfinite(options.threshold)) {
    throw Error(ErrorCode::kInvalidArgument, "cluster threshold must be a positive number");
  }
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  ClusterResult result;
  WriteScope txn(*im.store);
  const std::vector<gallery::UnknownRow> rows = im.store->unknown_rows();
  std::vector<Embedding> embeddings;
  std::vector<std::optional<std::int64_t>> previous;
  embeddings.reserve(rows.size());
  for (const auto& row : rows) {
    embeddings.push_back(row.embedding);
    previous.push_back(row.cluster);
  }
  const std::vector<std::size_t> labels = cluster_average_linkage(embeddings, options.threshold);
  const std::size_t label_count = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  // Fresh ids come from the store's counter, so a dismissed cluster's id is never reused.
  std::int64_t fresh_count = 0;  // a dry run counts the clusters that need a new id
  carry_cluster_ids(labels, previous, fresh_count);
  std::int64_t next_id = fresh_count > 0 ? im.store->take_cluster_ids(fresh_count) : 0;
  const std::vector<std::int64_t> ids = carry_cluster_ids(labels, previous, next_id);
  const std::vector<Embedding> centroids = cluster_centroids(embeddings, labels);
  std::vector<gallery::ClusterRow> clusters(label_count);
  for (std::size_t label = 0; label < label_count; ++label) clusters[label] = {ids[label], 0, centroids[label]};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ++clusters[labels[i]].size;
    if (previous[i] != ids[labels[i]]) im.store->set_unknown_cluster(rows[i].id, ids[labels[i]]);
  }
  im.store->replace_clusters(clusters);
  im.commit(txn);
  result.clusters = label_count;
  result.faces = rows.size();
  result.kept_ids = label_count - static_cast<std::size_t>(fresh_count);
  return result;
}

ClusterPage Gallery::clusters(std::int64_t offset, std::int64_t limit, std::size_t max_faces,
                              float close_distance) const {
  check_page(offset, limit);
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  ReadScope read(*im.store);
  ClusterPage page;
  page.total = im.store->count_clusters();
  const std::vector<gallery::ClusterRow> all = im.store->all_clusters();
  for (const gallery::ClusterRow& row : im.store->cluster_page(offset, limit)) {
    UnknownCluster cluster;
    cluster.id = row.id;
    cluster.size = row.size;
    cluster.faces = im.store->unknown_of_cluster(row.id, static_cast<std::int64_t>(max_faces));
    for (UnknownFace& f : cluster.faces) f.face.embedding.clear();
    for (const gallery::ClusterRow& other : all) {
      if (other.id == row.id || other.centroid.size() != row.centroid.size()) continue;
      const float distance = euclidean_distance(row.centroid, other.centroid);
      if (distance < close_distance) cluster.close.push_back({other.id, distance});
    }
    std::sort(cluster.close.begin(), cluster.close.end(),
              [](const ClosePair& a, const ClosePair& b) { return a.distance < b.distance; });
    page.items.push_back(std::move(cluster));
  }
  return page;
}

std::vector<std::string> Gallery::promote_cluster(std::int64_t cluster, const std::string& person,
                                                  const std::vector<std::string>& face_ids) {
  gallery::validate_person(person, "promote: ");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<std::string> ids;
  {
    WriteScope txn(*im.store);
    WriteEffects effects{.rows_removed = true};
    std::vector<UnknownFace> members = im.store->unknown_of_cluster(cluster, std::numeric_limits<std::int64_t>::max());
    if (members.empty()) {
      throw Error(ErrorCode::kNotFound, "no unknown-face cluster " + std::to_string(cluster) + " in gallery " +
                                            im.location() + " (run `siamface cluster` first)");
    }
    std::vector<GalleryFace> batch;
    std::unordered_set<std::string> wanted(face_ids.begin(), face_ids.end());
    for (UnknownFace& u : members) {
      if (!face_ids.empty() && !wanted.erase(u.face.id)) continue;  // not in the chosen subset
      GalleryFace f = std::move(u.face);
      f.thumbnail_jpeg = im.store->unknown_thumbnail(f.id).value_or(std::vector<std::uint8_t>{});
      im.store->delete_unknown(f.id);
      f.person = person;
      f.id.clear();  // a new face id: the unknown one is gone
      batch.push_back(std::move(f));
    }
    if (!wanted.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "promote: face " + *wanted.begin() + " is not in cluster " +
                                                   std::to_string(cluster));
    }
    for (const AddOutcome& o : im.insert_locked(batch, effects.added_faces)) ids.push_back(o.face_id);
    if (im.store->unknown_of_cluster(cluster, 1).empty()) im.store->delete_cluster(cluster);
    im.commit(txn, std::move(effects));
  }
  return ids;
}

std::size_t Gallery::dismiss_cluster(std::int64_t cluster) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    removed = im.store->unknown_of_cluster(cluster, std::numeric_limits<std::int64_t>::max()).size();
    if (removed == 0) {
      throw Error(ErrorCode::kNotFound, "no unknown-face cluster " + std::to_string(cluster) + " in gallery " + im.location());
    }
    im.store->delete_cluster(cluster);
    im.commit(txn, {.rows_removed = true});
  }
  return removed;
}

std::optional<std::vector<std::uint8_t>> Gallery::unknown_thumbnail(const std::string& unknown_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->unknown_thumbnail(unknown_id);
}

}  // namespace siamface
