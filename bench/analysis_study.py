#!/usr/bin/env python3
"""The tables of docs/analysis.md (issue 32).

  bench/analysis_study.py liveness scores.tsv
      scores.tsv: build/bench/analysis_study_bench scores [--lfw-every K]. Per set, the share of
      live faces called spoof (bona fide presentation classification error rate, BPCER) and of
      attacks called live (APCER) at several thresholds, for the input the library feeds (BGR)
      and the one the package's JavaScript feeds (RGB).
  bench/analysis_study.py labels [--cli build/siamface] [--testdata DIR]
      Runs `siamface analyze --attributes age,gender` on every folder of bench/analysis_labels.tsv
      and prints gender accuracy and age mean absolute error per set. One face per photo: the
      largest (every labelled photo is a crop around its subject's face).
"""
import argparse
import collections
import csv
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THRESHOLDS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
ATTACK_SETS = ("synthetic_print", "synthetic_screen")


def liveness(path):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    by_set = collections.defaultdict(list)
    for row in rows:
        name = row["set"]
        if name == "attack_samples":  # one live and two attack photos, told apart by file name
            name = "attack_samples (" + ("live" if "_T" in os.path.basename(row["file"]) else "attack") + ")"
        by_set[name].append(row)
    for column, label in (("bgr0", "BGR input (the library)"), ("rgb0", "RGB input (the package's JavaScript)")):
        print(f"\n### {label}: live score = probability of class 0\n")
        print("| set | faces | median score | " + " | ".join(f"t={t}" for t in THRESHOLDS) + " |")
        print("|---|---:|---:|" + "---:|" * len(THRESHOLDS))
        for name, rs in by_set.items():
            scores = [float(r[column]) for r in rs]
            attack = name in ATTACK_SETS or name.endswith("(attack)")
            # Bona fide sets: share called spoof (score < t); attacks: share called live (score >= t).
            cells = []
            for t in THRESHOLDS:
                wrong = sum(1 for s in scores if (s >= t) == attack)
                cells.append(f"{100.0 * wrong / len(scores):.1f} %")
            kind = "APCER" if attack else "BPCER"
            print(f"| {name} ({kind}) | {len(scores)} | {statistics.median(scores):.3f} | " + " | ".join(cells) + " |")


def largest(faces):
    return max(faces, key=lambda face: face["box"]["width"] * face["box"]["height"])


def labels(cli, testdata):
    sets = collections.defaultdict(lambda: {"gender": [], "age": []})
    for line in open(os.path.join(HERE, "analysis_labels.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        folder, gender, birth_year = (line.rstrip("\n").split("\t") + [""])[:3]
        set_name = folder.split("/")[0]
        out = subprocess.run([cli, "analyze", os.path.join(testdata, folder), "--attributes", "age,gender", "-j", "2"],
                             capture_output=True, text=True)
        for text in out.stdout.splitlines():
            photo = json.loads(text)
            if not photo.get("faces"):
                sets[set_name]["gender"].append(None)  # no face found: counted as a miss
                continue
            face = largest(photo["faces"])
            if "gender" not in face:
                sets[set_name]["gender"].append(None)
                continue
            sets[set_name]["gender"].append(face["gender"]["value"] == gender)
            if birth_year and set_name.startswith("lfw"):
                sets[set_name]["age"].append(abs(face["age"] - (2003 - int(birth_year))))
    print("| set | photos | gender correct | no face | age MAE (years) | age photos |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in sets.items():
        judged = [g for g in s["gender"] if g is not None]
        correct = sum(1 for g in judged if g)
        mae = f"{statistics.mean(s['age']):.2f}" if s["age"] else "-"
        print(f"| {name} | {len(s['gender'])} | {100.0 * correct / max(1, len(judged)):.1f} % ({correct}/{len(judged)}) | "
              f"{len(s['gender']) - len(judged)} | {mae} | {len(s['age'])} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("liveness")
    p.add_argument("scores")
    p = sub.add_parser("labels")
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "siamface"))
    p.add_argument("--testdata", default=os.environ.get("SIAMFACE_TESTDATA", os.path.join(os.path.dirname(ROOT), "shared", "testdata")))
    args = parser.parse_args()
    if args.command == "liveness":
        liveness(args.scores)
    else:
        labels(args.cli, args.testdata)


if __name__ == "__main__":
    sys.exit(main())
