// The validation suite (issue 16): every accuracy change is judged on all of these sets, not on
// LFW alone. Per set and per recognizer it prints verification accuracy at the default rule
// (distance < 0.6) and at the best threshold, one-shot open-set rank-1 / named / strangers
// accepted, and for the photo sets faces found, false faces and face-choice errors.
//   build/bench/validation_suite_bench [--testdata DIR] [--per-fold N] [--recognizers dlib,mfn,fused]
//                                      [--border-pass auto|always|empty|off|needed] [--border-only-min-score S]
//                                      [--sets lfw,lfw-plain,lfw-portrait,dev,identities,lfw-identities,detection]
//                                      [--detector ssd|rfb|tiny|haar]
//                                      [--peer PYTHON|none] [--peer-jobs N] [--dlib-weights quantised|float]
// --per-fold N: LFW View 2 pairs per fold and kind for the LFW rows (default 20: 400 pairs;
// 300 = all 6,000). Rows: LFW as shipped, LFW crops pasted into larger photos with a body below
// (the face must be found and chosen by the largest-face rule, as verify/enroll do), greyscale,
// low resolution; lfw_dev pairs; the identity folders (open set); the photo sets.
// --peer PYTHON: the real face_recognition (PyPI, the venv of scripts/setup.sh; default its
// python when it exists, `none` turns it off) as an extra recognizer row on every verification
// and identity set, on the same transformed photos, scored by the same functions
// (bench/face_recognition_peer.hpp); --peer-jobs N single-threaded processes (default 2).
// --dlib-weights float: dlib's own float weights in the dlib and fused recognizers (rows
// "dlib float", "fused float"; ModelOptions::dlib_weights), for the side-by-side table of
// docs/validation.md.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/imglab_xml.hpp"
#include "common/labelled_sets.hpp"
#include "common/test_env.hpp"
#include "face_recognition_peer.hpp"
#include "eval/open_set.hpp"
#include "eval/lfw_pairs.hpp"
#include "eval/verification_protocol.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/decision.hpp"
#include "siamface/identify.hpp"
#include "siamface/image.hpp"

using namespace siamface;
namespace fs = std::filesystem;

namespace {

constexpr float kDefaultThreshold = 0.6F;

struct Options {
  fs::path testdata = test::testdata_dir();
  int per_fold = 20;
  std::vector<Recognizer> recognizers = {Recognizer::kDlib, Recognizer::kMobileFaceNet, Recognizer::kFused};
  DetectOptions detect;
  DetectorKind detector = ModelOptions{}.detector;
  std::string sets = "lfw,dev,identities,lfw-identities,detection";
  std::string peer = "auto";  // --peer: the real face_recognition's python; "none": off
  DlibWeights dlib_weights = ModelOptions{}.dlib_weights;
  // A row's recognizer: "dlib", "fused float", ...
  std::string recognizer_label(std::size_t e) const {
    const bool float_row = dlib_weights == DlibWeights::kFloat && recognizers[e] != Recognizer::kMobileFaceNet;
    return std::string(to_string(recognizers[e])) + (float_row ? " float" : "");
  }
  int peer_jobs = 2;
  fs::path peer_python() const;
  bool wants(const std::string& set) const { return ("," + sets + ",").find("," + set + ",") != std::string::npos; }
};

// Runs f(i) for i in [0, n) on two threads.
template <typename F>
void parallel_for(std::size_t n, F f) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < n;) f(i);
    });
  }
  for (auto& t : threads) t.join();
}

enum class Transform { kNone, kPortrait, kGrey, kLowResolution };

const char* to_string(Transform t) {
  switch (t) {
    case Transform::kNone: return "as shipped";
    case Transform::kPortrait: return "in a photo with a body below";
    case Transform::kGrey: return "greyscale";
    case Transform::kLowResolution: return "low resolution (1/3)";
  }
  return "?";
}

// The crop in a frame 3x its width and 3.5x its height, face in the upper middle, the crop's
// bottom quarter (neck, collar, clothes) stretched below it as a torso. Returns where the crop
// went, so the chosen face can be checked.
Image as_portrait(const Image& crop, Box* placed) {
  const cv::Mat c = as_mat(crop);
  const int w = c.cols, h = c.rows;
  cv::Mat frame(h * 7 / 2, w * 3, CV_8UC3, cv::Scalar(170, 180, 190));
  const cv::Mat bottom = c(cv::Rect(0, h * 3 / 4, w, h / 4));
  cv::Mat torso;
  cv::resize(bottom, torso, cv::Size(w * 2, frame.rows - (h / 2 + h)), 0, 0, cv::INTER_LINEAR);
  torso.copyTo(frame(cv::Rect(w / 2, h / 2 + h, torso.cols, torso.rows)));
  c.copyTo(frame(cv::Rect(w, h / 2, w, h)));
  *placed = {static_cast<float>(w), static_cast<float>(h / 2), static_cast<float>(w), static_cast<float>(h)};
  return from_mat(frame);
}

Image transformed(const Image& image, Transform t, Box* placed) {
  *placed = {0, 0, static_cast<float>(image.width), static_cast<float>(image.height)};
  switch (t) {
    case Transform::kNone: return image;
    case Transform::kPortrait: return as_portrait(image, placed);
    case Transform::kGrey: return test::apply_variant(image, test::Variant::kGrey);
    case Transform::kLowResolution: return test::apply_variant(image, test::Variant::kLowResolution);
  }
  return image;
}

struct PhotoResult {
  bool found = false;
  bool wrong_choice = false;                  // the chosen face is not the labelled one
  std::vector<Embedding> by_recognizer;       // one per Options::recognizers
  FaceQuality quality;
};

// Detects once (detection does not depend on the recognizer), chooses the face, embeds it with
// every engine. The crop's own face is the one whose box centre lies inside `truth`.
PhotoResult analyse(const std::vector<Engine>& engines, const Options& options, const Image& image,
                    FaceChoice choice, const Box* truth) {
  PhotoResult r;
  const std::vector<Face> faces = engines.front().detect(image, options.detect);
  const int chosen = engines.front().choose_subject(image, faces, choice, {.detect = options.detect});
  if (chosen < 0) return r;
  r.found = true;
  const Face& face = faces[chosen];
  if (truth) {
    const Point c = face.box.center();
    r.wrong_choice = c.x < truth->left || c.y < truth->top || c.x > truth->right() || c.y > truth->bottom();
  }
  r.quality = face.quality;
  for (const Engine& engine : engines) r.by_recognizer.push_back(engine.embed(image, face));
  return r;
}

struct Row {
  std::string set;
  std::string recognizer;
  std::string note;
  int pairs = 0;
  double acc_default = -1, acc_best = -1;  // %, -1: not measured
  int photos = 0, missed = 0, wrong_choice = 0;
  double rank1 = -1, named = -1, strangers = -1;
  int stranger_probes = 0;
};

std::vector<Row> g_rows;

void print_row(const Row& r) {
  const auto pct = [](double v) {
    char b[16];
    if (v < 0) return std::string("-");
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  std::printf("| %s | %s | %s | %s | %s | %d/%d | %d | %s | %s | %s |\n", r.set.c_str(), r.recognizer.c_str(),
              r.pairs ? std::to_string(r.pairs).c_str() : "-", pct(r.acc_default).c_str(), pct(r.acc_best).c_str(),
              r.missed, r.photos, r.wrong_choice, pct(r.rank1).c_str(), pct(r.named).c_str(),
              r.stranger_probes ? (pct(r.strangers) + " of " + std::to_string(r.stranger_probes)).c_str() : "-");
  std::fflush(stdout);
}

// The real face_recognition's rows (issue 31, item 5): its own detection, face choice and
// encoding on the same transformed photos (face_recognition_peer.hpp), scored by the same
// functions as our recognizers' rows: accuracy_at the default 0.6, best_threshold / ten_fold,
// and for identities open_set_trial with IdentifyOptions::default_decision_rule() (the quality it
// sees is our measure_face_quality on the peer's box). A photo without a face makes its pairs wrong.
void peer_verification_row(const std::string& set, const std::vector<std::string>& images,
                           const std::vector<LfwPair>& pairs, const std::vector<peer::PeerPhoto>& peer, bool ten_folds) {
  if (peer.empty()) return;
  const auto index_of = [&](const std::string& name) {
    return std::lower_bound(images.begin(), images.end(), name) - images.begin();
  };
  std::vector<ScoredPair> scored;
  for (const LfwPair& p : pairs) {
    const peer::PeerPhoto& a = peer[index_of(p.a)];
    const peer::PeerPhoto& b = peer[index_of(p.b)];
    ScoredPair s;
    s.same = p.same, s.fold = p.fold, s.valid = a.found && b.found;
    if (s.valid) s.distance = euclidean_distance(a.encoding, b.encoding);
    scored.push_back(s);
  }
  Row row;
  row.set = set;
  row.recognizer = peer::kRecognizerName;
  row.pairs = static_cast<int>(pairs.size());
  row.acc_default = 100 * accuracy_at(scored, kDefaultThreshold);
  row.acc_best = 100 * (ten_folds ? ten_fold(scored).mean_accuracy : accuracy_at(scored, best_threshold(scored)));
  row.photos = static_cast<int>(images.size());
  for (const peer::PeerPhoto& p : peer) row.missed += !p.found, row.wrong_choice += p.wrong_choice;
  g_rows.push_back(row);
  print_row(row);
}

// One identity-folder row: every pair of photos verified, and the one-shot open set (half the
// people enrolled from one photo each, every other photo probed, both halves). `embeddings[i]`
// is photo i's embedding, or null when no face was found; the same scoring for every recognizer.
void identity_row(const std::string& set, const std::string& recognizer, const std::vector<fs::path>& photos,
                  const std::vector<const Embedding*>& embeddings, const std::vector<FaceQuality>& qualities) {
  std::vector<LabelledFace> faces;
  std::vector<ScoredPair> scored;
  int missed = 0;
  for (std::size_t i = 0; i < photos.size(); ++i) {
    missed += !embeddings[i];
    if (embeddings[i]) faces.push_back({photos[i].parent_path().filename().string(), *embeddings[i], qualities[i]});
  }
  for (std::size_t i = 0; i < photos.size(); ++i) {
    for (std::size_t j = i + 1; j < photos.size(); ++j) {
      ScoredPair s;
      s.same = photos[i].parent_path() == photos[j].parent_path();
      s.valid = embeddings[i] && embeddings[j];
      if (s.valid) s.distance = euclidean_distance(*embeddings[i], *embeddings[j]);
      scored.push_back(s);
    }
  }
  const auto [first, second] = split_people(faces);
  const DecisionRule rule = IdentifyOptions::default_decision_rule();
  OpenSetStats stats = open_set_trial(faces, first, rule);
  stats += open_set_trial(faces, second, rule);
  Row row;
  row.set = set;
  row.recognizer = recognizer;
  row.pairs = static_cast<int>(scored.size());
  row.acc_default = 100 * accuracy_at(scored, kDefaultThreshold);
  row.acc_best = 100 * accuracy_at(scored, best_threshold(scored));
  row.photos = static_cast<int>(photos.size()), row.missed = missed;
  row.rank1 = 100 * stats.rank1_rate(), row.named = 100 * stats.named_rate();
  row.strangers = 100 * stats.stranger_accept_rate(), row.stranger_probes = stats.stranger_probes;
  g_rows.push_back(row);
  print_row(row);
}

void peer_identity_row(const std::string& set, const std::vector<fs::path>& photos,
                       const std::vector<peer::PeerPhoto>& peer) {
  if (peer.empty()) return;
  std::vector<const Embedding*> embeddings;
  std::vector<FaceQuality> qualities;
  for (const peer::PeerPhoto& p : peer) {
    embeddings.push_back(p.found ? &p.encoding : nullptr);
    qualities.push_back(p.quality);
  }
  identity_row(set, peer::kRecognizerName, photos, embeddings, qualities);
}

fs::path Options::peer_python() const {
  if (peer == "none" || peer.empty()) return {};
  if (peer != "auto") return peer;
  const fs::path python = peer::default_python();
  return !python.empty() && fs::exists(python) ? python : fs::path();
}

// Verification rows for one list of pairs over photos under `root`.
void verification_rows(const std::string& set, const std::vector<Engine>& engines, const Options& options,
                       const fs::path& root, const std::vector<LfwPair>& pairs, Transform transform, bool ten_folds) {
  std::vector<std::string> images;
  for (const LfwPair& p : pairs) images.push_back(p.a), images.push_back(p.b);
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  std::vector<PhotoResult> results(images.size());
  // Crops: LFW's own convention picks the face nearest the centre; in a photo the product's
  // one-face rule (verify, enroll --largest, HTTP register) picks, and must pick the pasted face.
  const FaceChoice choice = transform == Transform::kPortrait ? FaceChoice::kLargest : FaceChoice::kNearestCenter;
  peer::PeerBatch peer_batch(options.peer_python(), images.size(), options.peer_jobs);
  parallel_for(images.size(), [&](std::size_t i) {
    Box placed;
    const Image image = transformed(load_image((root / images[i]).string()), transform, &placed);
    results[i] = analyse(engines, options, image, choice, transform == Transform::kPortrait ? &placed : nullptr);
    peer_batch.add(i, image, transform == Transform::kPortrait ? &placed : nullptr);
  });
  const auto index_of = [&](const std::string& name) {
    return std::lower_bound(images.begin(), images.end(), name) - images.begin();
  };
  int missed = 0, wrong = 0;
  for (const PhotoResult& r : results) missed += !r.found, wrong += r.wrong_choice;
  for (std::size_t e = 0; e < engines.size(); ++e) {
    std::vector<ScoredPair> scored;
    for (const LfwPair& p : pairs) {
      const PhotoResult& a = results[index_of(p.a)];
      const PhotoResult& b = results[index_of(p.b)];
      ScoredPair s;
      s.same = p.same, s.fold = p.fold, s.valid = a.found && b.found;
      if (s.valid) s.distance = euclidean_distance(a.by_recognizer[e], b.by_recognizer[e]);
      scored.push_back(s);
    }
    Row row;
    row.set = set + (transform == Transform::kNone ? "" : std::string(", ") + to_string(transform));
    row.recognizer = options.recognizer_label(e);
    row.pairs = static_cast<int>(pairs.size());
    row.acc_default = 100 * accuracy_at(scored, kDefaultThreshold);
    row.acc_best = 100 * (ten_folds ? ten_fold(scored).mean_accuracy : accuracy_at(scored, best_threshold(scored)));
    row.photos = static_cast<int>(images.size()), row.missed = missed, row.wrong_choice = wrong;
    g_rows.push_back(row);
    print_row(row);
  }
  peer_verification_row(set + (transform == Transform::kNone ? "" : std::string(", ") + to_string(transform)), images,
                        pairs, peer_batch.run(choice == FaceChoice::kLargest ? "largest" : "center"), ten_folds);
}

// Identity folders: open set (one photo enrolled per person for half of the people, the other
// photos probed, both halves) and every pair of photos verified.
void identity_rows(const std::vector<Engine>& engines, const Options& options, const test::LabelledSet& set,
                   test::Variant variant) {
  const std::vector<fs::path> photos = test::photos_of(set);
  std::vector<PhotoResult> results(photos.size());
  peer::PeerBatch peer_batch(options.peer_python(), photos.size(), options.peer_jobs);
  parallel_for(photos.size(), [&](std::size_t i) {
    const Image image = test::apply_variant(load_image(photos[i].string()), variant);
    results[i] = analyse(engines, options, image, FaceChoice::kLargest, nullptr);
    peer_batch.add(i, image, nullptr);
  });
  const std::string name =
      set.name + " (identities" +
      (variant == test::Variant::kOriginal ? std::string() : std::string(", ") + test::to_string(variant)) + ")";
  std::vector<FaceQuality> qualities;
  for (const PhotoResult& r : results) qualities.push_back(r.quality);
  for (std::size_t e = 0; e < engines.size(); ++e) {
    std::vector<const Embedding*> embeddings;
    for (const PhotoResult& r : results) embeddings.push_back(r.found ? &r.by_recognizer[e] : nullptr);
    identity_row(name, options.recognizer_label(e), photos, embeddings, qualities);
  }
  peer_identity_row(name, photos, peer_batch.run("largest"));
}

// Photo sets: labelled boxes found (IoU >= 0.3) and faces where none is labelled.
void detection_rows(const Engine& engine, const Options& options) {
  const fs::path voc = options.testdata / "dlib_examples/faces";
  std::map<std::string, std::vector<Box>> truth;
  for (const test::ImglabFace& f : test::read_imglab_faces(voc / "training.xml")) truth[f.image].push_back(f.box);
  int labelled = 0, found = 0, unlabelled = 0;
  for (const auto& [name, boxes] : truth) {
    const std::vector<Face> faces = engine.detect(load_image((voc / name).string()), options.detect);
    labelled += static_cast<int>(boxes.size());
    for (const Box& b : boxes) {
      found += std::any_of(faces.begin(), faces.end(), [&](const Face& f) { return intersection_over_union(f.box, b) >= 0.3F; });
    }
    for (const Face& f : faces) {
      unlabelled += std::none_of(boxes.begin(), boxes.end(), [&](const Box& b) { return intersection_over_union(f.box, b) >= 0.3F; });
    }
  }
  std::printf("\nDetection. VOC photos (dlib boxes): %d of %d labelled faces found, %d faces where none is labelled "
              "(unboxed real faces count here too).\n", found, labelled, unlabelled);
  int false_faces = 0, images = 0;
  for (const auto& e : fs::directory_iterator(options.testdata / "dlib_examples/non_face")) {
    if (e.path().extension() != ".jpg") continue;
    false_faces += static_cast<int>(engine.detect(load_image(e.path().string()), options.detect).size());
    ++images;
  }
  std::printf("Non-face photos: %d faces in %d photos (every one false).\n", false_faces, images);
  const fs::path fr = options.testdata / "face_recognition_ageitgey/tests/test_images";
  int fr_faces = 0, fr_images = 0;
  for (const char* name : {"obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png", "obama_partial_face2.jpg"}) {
    fr_faces += static_cast<int>(engine.detect(load_image((fr / name).string()), options.detect).size());
    ++fr_images;
  }
  std::printf("face_recognition one-person photos: %d faces in %d photos (1 each expected).\n", fr_faces, fr_images);
  const fs::path bbt1 = options.testdata / "face-api.js/examples/images/bbt1.jpg";
  std::printf("face-api.js bbt1.jpg: %zu faces (4 people).\n", engine.detect(load_image(bbt1.string()), options.detect).size());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--testdata") options.testdata = value();
    else if (a == "--per-fold") options.per_fold = std::stoi(value());
    else if (a == "--sets") options.sets = value();
    else if (a == "--detector") options.detector = parse_detector_kind(value());
    else if (a == "--peer") options.peer = value();
    else if (a == "--peer-jobs") options.peer_jobs = std::stoi(value());
    else if (a == "--dlib-weights") options.dlib_weights = parse_dlib_weights(value());
    else if (a == "--border-only-min-score") options.detect.border_only_min_score = std::stof(value());
    else if (a == "--border-pass") {
      options.detect.border_pass = parse_border_pass(value());
    } else if (a == "--recognizers") {
      options.recognizers.clear();
      std::stringstream list(value());
      for (std::string name; std::getline(list, name, ',');) options.recognizers.push_back(parse_recognizer(name));
    } else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of the source)\n", a.c_str());
      return 2;
    }
  }
  set_intra_op_threads(1);
  std::vector<Engine> engines;
  for (Recognizer r : options.recognizers) {
    ModelOptions engine_options;
    engine_options.recognizer = r;
    engine_options.dlib_weights = options.dlib_weights;
    engine_options.detector = options.detector;
    engines.push_back(Engine::open(engine_options));
  }
  if (const fs::path python = options.peer_python(); !python.empty()) {
    std::fprintf(stderr, "the real face_recognition: %s %s (--peer none: off)\n", python.c_str(), peer::script_path().c_str());
  }
  std::printf("| set | recognizer | pairs | acc. at 0.6 %% | acc. best threshold %% | photos without a face | "
              "face-choice errors | open-set rank-1 %% | named %% | strangers accepted %% |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  const fs::path lfw = options.testdata / "lfw";
  const auto pairs = read_lfw_pairs((lfw / "pairs.txt").string(), options.per_fold);
  const std::string lfw_name = "LFW View 2 (" + std::to_string(pairs.size()) + " pairs, 10-fold)";
  for (Transform t : {Transform::kNone, Transform::kPortrait, Transform::kGrey, Transform::kLowResolution}) {
    // lfw-portrait: that row alone (the only LFW row whose photos exceed 512 px: 750 x 875);
    // lfw-plain: the as-shipped row alone (the full 6,000 pairs with the real face_recognition).
    if (options.wants("lfw") || (t == Transform::kPortrait && options.wants("lfw-portrait")) ||
        (t == Transform::kNone && options.wants("lfw-plain"))) {
      verification_rows(lfw_name, engines, options, lfw / "lfw-deepfunneled", pairs, t, true);
    }
  }
  // lfw_dev: pairs.tsv (image_a, image_b, same_person).
  std::vector<LfwPair> dev;
  std::ifstream tsv(options.testdata / "lfw_dev/pairs.tsv");
  std::string header;
  std::getline(tsv, header);
  for (std::string a, b; tsv >> a >> b;) {
    int same = 0;
    tsv >> same;
    dev.push_back({a, b, same == 1, 0});
  }
  if (options.wants("dev")) {
    verification_rows("lfw_dev pairs", engines, options, options.testdata / "lfw_dev/lfw-deepfunneled", dev,
                      Transform::kNone, false);
  }
  if (options.wants("identities")) {
    for (const test::LabelledSet& set : test::labelled_sets(options.testdata)) {
      for (test::Variant v : {test::Variant::kOriginal, test::Variant::kGreyLowResolution}) identity_rows(engines, options, set, v);
    }
  }
  if (options.wants("lfw-identities")) {
    // A larger open set: every LFW person with at least 4 photos (their first 4), as shipped and
    // as small grey photos (the held-out stranger sets of issue 16 were low-resolution greyscale).
    const test::LabelledSet lfw{"LFW people with 4+ photos", options.testdata / "lfw/lfw-deepfunneled", 4};
    for (test::Variant v : {test::Variant::kOriginal, test::Variant::kGreyLowResolution}) identity_rows(engines, options, lfw, v);
  }
  if (options.wants("detection")) detection_rows(engines.front(), options);
  return 0;
}
