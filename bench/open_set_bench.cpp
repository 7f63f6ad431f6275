// Open-set sweep behind the default decision rule: for each photo variant, how many
// enrolled people are named and how many strangers are accepted, per rule.
//   build/bench/open_set_bench [testdata_dir]
#include <cstdio>
#include <iostream>

#include "common/labelled_sets.hpp"
#include "common/test_env.hpp"
#include "siamface/identify.hpp"

using namespace siamface;

int main(int argc, char** argv) {
  const std::filesystem::path testdata = argc > 1 ? argv[1] : test::testdata_dir();
  const Engine engine = Engine::open();
  struct Rule {
    const char* label;
    DecisionRule rule;
  };
  std::vector<Rule> rules;
  for (float threshold : {0.60F, 0.55F, 0.52F, 0.50F, 0.48F, 0.45F})
    for (float margin : {0.0F, 0.05F, 0.08F})
      for (bool adaptive : {false, true}) rules.push_back({"", {.threshold = threshold, .margin = margin, .quality_adaptive = adaptive}});

  for (test::Variant variant : {test::Variant::kOriginal, test::Variant::kGrey, test::Variant::kLowResolution}) {
    std::vector<std::vector<LabelledFace>> sets;
    int missed = 0;
    for (const auto& set : test::labelled_sets(testdata)) sets.push_back(test::embed_set(engine, set, variant, &missed));
    std::printf("\n== %s (photos without a face: %d)\n", test::to_string(variant), missed);
    std::printf("%-9s %-6s %-8s | %-8s %-8s %-8s | %s\n", "threshold", "margin", "adaptive", "named%", "wrong%",
                "rank1%", "strangers accepted%");
    for (const Rule& rule : rules) {
      OpenSetStats total;
      for (const auto& faces : sets) {
        const auto [first, second] = split_people(faces);
        total += open_set_trial(faces, first, rule.rule);
        total += open_set_trial(faces, second, rule.rule);
      }
      std::printf("%-9.3f %-6.2f %-8s | %-8.1f %-8.1f %-8.1f | %.1f (%d/%d)\n", rule.rule.threshold, rule.rule.margin,
                  rule.rule.quality_adaptive ? "on" : "off", 100 * total.named_rate(),
                  100.0 * total.named_wrongly / std::max(1, total.known_probes), 100 * total.rank1_rate(),
                  100 * total.stranger_accept_rate(), total.strangers_accepted, total.stranger_probes);
    }
  }
  return 0;
}
