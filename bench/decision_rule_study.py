#!/usr/bin/env python3
"""Study tool (issue 31): candidate open-set decision rules on every labelled set and variant.

Reads the dump of build/bench/decision_rule_dump_bench (faces.tsv, embeddings.f32) and runs the
one-shot open-set protocol of src/eval/open_set.cpp on it: people split in two halves by sorted
name, the first photo of each person of one half enrolled, every other photo probed, then the
halves swapped. For each rule it prints, per set and variant, the enrolled people named (%), the
known people given another's name (count) and the strangers named (%).

    build/bench/decision_rule_dump_bench out/rules
    python3 bench/decision_rule_study.py out/rules [--rules previous,shipped,...]

Only numpy (Debian's python3-numpy; run it with /usr/bin/python3).
"""
import argparse
import csv
import sys
from collections import defaultdict

import numpy as np

DLIB = 128
MFN = 512
POOR_SHARPNESS = 40.0  # DecisionRule: kPoorSharpness, kPoorBrightness (include/siamface/decision.hpp)
POOR_BRIGHTNESS = 50.0


def load(dump):
    rows = [r for r in csv.DictReader(open(f"{dump}/faces.tsv"), delimiter="\t") if r["score"] is not None]
    emb = np.fromfile(f"{dump}/embeddings.f32", dtype=np.float32)
    count = min(len(rows), emb.size // (DLIB + MFN))  # a dump still being written: its whole rows
    rows, emb = rows[:count], emb[: count * (DLIB + MFN)].reshape(count, DLIB + MFN)
    groups = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["set"], r["variant"])].append(i)
    return rows, emb, groups


def distances(emb, probes, gallery):
    """Per-network distance matrices (probe x enrolled) on the product's scales: dlib, the
    MobileFaceNet (unit vectors x 0.5, as the mfn recognizer), and fused (0.25 dlib^2 + 0.75 mfn^2)."""
    d = emb[probes, :DLIB][:, None, :] - emb[gallery, :DLIB][None, :, :]
    dd = np.sqrt((d * d).sum(-1))
    m = emb[probes, DLIB:][:, None, :] - emb[gallery, DLIB:][None, :, :]
    dm = 0.5 * np.sqrt((m * m).sum(-1))
    df = np.sqrt(0.25 * dd * dd + 0.75 * dm * dm)
    return {"dlib": dd, "mfn": dm, "fused": df}


def trials(rows, idx):
    """Both halves: (probe rows, enrolled rows), the first photo of each enrolled person enrolled."""
    idx = sorted(idx, key=lambda i: (rows[i]["person"], rows[i]["photo"]))
    people = sorted({rows[i]["person"] for i in idx})
    for half in (0, 1):
        enrolled = {p for k, p in enumerate(people) if k % 2 == half}
        gallery, seen = [], set()
        for i in idx:
            p = rows[i]["person"]
            if p in enrolled and p not in seen:
                seen.add(p)
                gallery.append(i)
        chosen = set(gallery)
        probes = [i for i in idx if i not in chosen]
        if probes and len(gallery) > 1:
            yield probes, gallery


def probe_table(rows, emb, idx, recognizer):
    """Per probe of both halves, for one recognizer's ranking: stranger or not, rank-1 right or
    not, the top-1/top-2 distances, the MobileFaceNet's distance to the top-1 face (the fused
    recognizer's agreement check) and the face's quality."""
    out = defaultdict(list)
    for probes, gallery in trials(rows, idx):
        people = [rows[g]["person"] for g in gallery]
        mats = distances(emb, probes, gallery)
        ranked = mats[recognizer]
        order = np.argsort(ranked, axis=1)
        top, second = order[:, 0], order[:, 1]
        r = np.arange(len(probes))
        out["stranger"] += [rows[p]["person"] not in people for p in probes]
        out["right"] += [people[t] == rows[p]["person"] for t, p in zip(top, probes)]
        out["d1"] += list(ranked[r, top])
        out["d2"] += list(ranked[r, second])
        out["mfn"] += list(mats["mfn"][r, top])
        for p in probes:
            out["sharpness"].append(float(rows[p]["sharpness"]))
            out["brightness"].append(float(rows[p]["brightness"]))
    return {k: np.array(v) for k, v in out.items()}


def rule(threshold=0.6, margin=0.05, poor_margin=0.0, agreement=0.0):
    """The product's DecisionRule (src/pipeline/decide_names.cpp) for one face decided alone."""
    def accept(t, fused):
        poor = (t["sharpness"] < POOR_SHARPNESS) | (t["brightness"] < POOR_BRIGHTNESS)
        ok = (t["d1"] < threshold) & (t["d2"] - t["d1"] >= np.where(poor, max(margin, poor_margin), margin))
        if fused and agreement > 0:
            ok &= t["mfn"] < threshold * agreement
        return ok
    return accept


RULES = {
    "previous": rule(),  # until issue 31: threshold 0.6, margin 0.05
    "agreement": rule(agreement=0.92),
    "poor margin": rule(poor_margin=0.10),
    "shipped": rule(poor_margin=0.10, agreement=0.92),  # IdentifyOptions::default_decision_rule()
    "threshold 0.55": rule(threshold=0.55),
}


def rates(t, accept):
    known = ~t["stranger"]
    named = (accept & known & t["right"]).sum() / max(known.sum(), 1)
    wrong = int((accept & known & ~t["right"]).sum())
    strangers = (accept & t["stranger"]).sum() / max(t["stranger"].sum(), 1)
    return 100 * named, wrong, 100 * strangers, int(t["stranger"].sum())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--rules", default="previous,shipped")
    parser.add_argument("--recognizers", default="dlib,mfn,fused")
    args = parser.parse_args()
    rows, emb, groups = load(args.dump)
    names = args.rules.split(",")
    recognizers = args.recognizers.split(",")
    columns = [(rec, name) for rec in recognizers for name in names]
    print("Cells: named % / known people given another's name / strangers named % (of N).\n")
    print("| set | variant | " + " | ".join(f"{rec}, {name}" for rec, name in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for key in sorted(groups):
        tables = {rec: probe_table(rows, emb, groups[key], rec) for rec in recognizers}
        cells = []
        for rec, name in columns:
            named, wrong, strangers, n = rates(tables[rec], RULES[name](tables[rec], rec == "fused"))
            cells.append(f"{named:.1f} / {wrong} / {strangers:.2f} of {n}")
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
