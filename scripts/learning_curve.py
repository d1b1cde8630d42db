#!/usr/bin/env python3
"""The priority head's learning curve over held-out writers.

A scikit-learn model of the logistic priority head (src/rules/logistic.rs):
binary tf-idf of words, word pairs in a clause and Chinese character runs of
one to three, unit length, C = 10; the adapter's facts (impact, the
regulator's channel) raise its answer as rules/priority.rhai does. The
tuning part's writers are split into eight groups; each group is predicted
by a model of a share of the other groups' writers (whole writers, since a
writer's wording is what does or does not carry over). The frozen part is
never read.

    pip install jieba scikit-learn numpy
    scripts/learning_curve.py [rules/corpus]

Not part of the tests: it prints figures for the README, in about ten
minutes on two cores.
"""
import glob, json, os, re, sys, tomllib

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

CORPUS = sys.argv[1] if len(sys.argv) > 1 else "rules/corpus"
HAN = re.compile(r"[\u4e00-\u9fff]+")
CLAUSE = re.compile(r"[,.;:!?，。；：！？、\n()（）]")
RANK = {"general": 0, "important": 1, "urgent": 2}


def keyword_words(path):
    """The keyword lists' words join the segmenter's dictionary, as in the service."""
    out = set()

    def walk(v):
        if isinstance(v, str):
            out.add(v.rstrip("*"))
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    with open(path, "rb") as f:
        walk(tomllib.load(f))
    return [w for w in out if HAN.search(w) and " " not in w]


def stem(w):
    for s in ("ing", "ed", "es", "s"):
        if len(w) > len(s) + 2 and w.endswith(s):
            return w[: -len(s)]
    return w


def features(text):
    t = text.lower()
    out = set()
    for clause in CLAUSE.split(t):
        prev = None
        for w in jieba.cut(clause):
            w = w.strip()
            if not w or not re.search(r"\w", w):
                continue
            w = stem(w) if w.isascii() else w
            out.add("w:" + w)
            if prev:
                out.add("p:" + prev + " " + w)
            prev = w
    for run in HAN.findall(t):
        for n in (1, 2, 3):
            out.update("c:" + run[i : i + n] for i in range(len(run) - n + 1))
    return list(out)


def with_facts(priority, r):
    fact = "general"
    if r.get("impact") == "widespread" or r["channel"] == "regulator":
        fact = "urgent"
    elif r.get("impact") == "multiple":
        fact = "important"
    return priority if RANK[priority] >= RANK[fact] else fact


def main():
    jieba.setLogLevel(60)
    for w in keyword_words(os.path.join(CORPUS, "..", "keywords.toml")):
        jieba.add_word(w)
    rows = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.jsonl"))):
        if os.path.basename(path).startswith("frozen"):
            continue
        for line in open(path, encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                r["writer"] = "Q" if path.endswith("complaints.jsonl") else r["id"].split("-")[0]
                rows.append(r)
    feats = [features(r["description"]) for r in rows]
    y = np.array([r["priority"] for r in rows])
    groups = np.array([r["writer"] for r in rows])
    print(f"{len(rows)} complaints by {len(set(groups))} writers")
    rng = np.random.default_rng(0)
    folds = list(GroupKFold(8).split(rows, y, groups))
    for share in (0.125, 0.25, 0.5, 1.0):
        right = total = 0
        sizes = []
        for train, test in folds:
            writers = np.array(sorted(set(groups[train])))
            rng.shuffle(writers)
            keep = set(writers[: max(1, round(share * len(writers)))])
            train = np.array([i for i in train if groups[i] in keep])
            sizes.append(len(train))
            v = TfidfVectorizer(analyzer=lambda x: x, binary=True, min_df=2)
            m = LogisticRegression(C=10, max_iter=300)
            m.fit(v.fit_transform([feats[i] for i in train]), y[train])
            predicted = m.predict(v.transform([feats[i] for i in test]))
            final = [with_facts(p, rows[i]) for p, i in zip(predicted, test)]
            right += sum(f == y[i] for f, i in zip(final, test))
            total += len(test)
        print(f"about {int(np.mean(sizes))} to learn from: priority {100 * right / total:.1f} %")


if __name__ == "__main__":
    main()
