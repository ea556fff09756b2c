"""Tuner designs scored on VALIDATION splits only (issue 14): how the defaults were chosen.

    python benchmarks/explore_tuner_defaults.py rt,sst2,embetter-new-dataset 0

Arguments: comma-separated data sets (rt, sst2, emotion, embetter-new-dataset,
embetter-data-quality; default all) and comma-separated seeds (default 0). Prints one
dict per (data set, seed, design) and writes benchmarks/results/explore_*.json.
EMBKIT_EXPLORE_CACHE names the embedding cache (default .cache/bench-embeddings).
"""

import json
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from benchmarks._common import DATA, ROOT
from embkit import ContrastiveTuner, FeedForwardTuner, SentenceEncoder

CACHE = os.environ.get("EMBKIT_EXPLORE_CACHE", str(ROOT / ".cache" / "bench-embeddings"))
enc = SentenceEncoder(cache=CACHE, device="cpu", show_progress_bar=False)


def jl(p):
    return [json.loads(line) for line in open(p, encoding="utf-8")]


def sets():
    out = {}
    for name in ("sst2", "emotion"):
        tr, va = jl(DATA / name / "train.jsonl"), jl(DATA / name / "validation.jsonl")
        out[name] = (
            [r["text"] for r in tr],
            [r["label"] for r in tr],
            [r["text"] for r in va],
            [r["label"] for r in va],
        )
    rt = jl(ROOT / "datasets" / "rotten_tomatoes.jsonl")
    t, labels_ = [r["text"] for r in rt], [r["label"] for r in rt]
    t_tr, _, l_tr, _ = train_test_split(
        t, labels_, test_size=0.25, random_state=0, stratify=labels_
    )  # demo split; test part unused
    a, b, c, d = train_test_split(t_tr, l_tr, test_size=0.25, random_state=1, stratify=l_tr)
    out["rt"] = (a, c, b, d)
    for fname, lab in (("new-dataset", "new-dataset"), ("data-quality", "data-quality")):
        rows = [r for r in jl(DATA / "embetter" / f"{fname}.jsonl") if lab in r["cats"]]
        t = [r["text"] for r in rows]
        labels_ = [str(r["cats"][lab]) for r in rows]
        a, b, c, d = train_test_split(t, labels_, test_size=0.3, random_state=1, stratify=labels_)
        out["embetter-" + fname] = (a, c, b, d)
    return out


def emb(s):
    a, c, b, d = s
    return enc.fit_transform(a), np.asarray(c), enc.fit_transform(b), np.asarray(d)


def lr_score(Ztr, ytr, Zva, yva):
    p = LogisticRegression(max_iter=3000).fit(Ztr, ytr).predict(Zva)
    return accuracy_score(yva, p), f1_score(yva, p, average="macro")


def train(kind, X, y, seed, es, params):
    cls = FeedForwardTuner if kind == "ff" else ContrastiveTuner
    t = cls(
        random_state=seed,
        device="cpu",
        output="tuned",
        early_stopping=es,
        n_epochs=50 if es else 20,
        **params,
    )
    t.fit(X, y)
    return t, getattr(t, "best_iteration_", 0), (t.n_iter_ if kind == "ff" else t.learner_.n_iter_)


def outputs(t, Xtr, Xva):
    Htr, Hva = t.transform(Xtr), t.transform(Xva)
    s = np.linalg.norm(Xtr, axis=1).mean() / max(np.linalg.norm(Htr, axis=1).mean(), 1e-8)
    out = {"hidden": (Htr, Hva)}
    for m in (1.0,):
        out[f"concat{m}"] = (np.hstack([Xtr, m * s * Htr]), np.hstack([Xva, m * s * Hva]))
    return out


def main():
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else None
    seeds = [int(x) for x in (sys.argv[2].split(",") if len(sys.argv) > 2 else ["0"])]
    res = []
    allsets = sets()
    configs = {
        "ff": {"default": {}},
        "ctr": {"default": {}},
    }
    for name in names or list(allsets):
        s = allsets[name]
        Xtr, ytr, Xva, yva = emb(s)
        print(
            f"== {name}: train {len(Xtr)} val {len(Xva)} classes {np.unique(ytr).tolist()}",
            flush=True,
        )
        for seed in seeds:
            a, f = lr_score(Xtr, ytr, Xva, yva)
            res.append(dict(data=name, seed=seed, design="lr-raw", acc=a, f1=f))
            print(res[-1], flush=True)
            for kind, cfgs in configs.items():
                for cname, params in cfgs.items():
                    for es in (False, True):
                        t0 = time.perf_counter()
                        t, be, ne = train(kind, Xtr, ytr, seed, es, params)
                        ft = time.perf_counter() - t0
                        for oname, (Ztr, Zva) in outputs(t, Xtr, Xva).items():
                            a, f = lr_score(Ztr, ytr, Zva, yva)
                            res.append(
                                dict(
                                    data=name,
                                    seed=seed,
                                    design=f"{kind}-{cname}-{'es' if es else 'full'}-{oname}",
                                    acc=a,
                                    f1=f,
                                    best_ep=be,
                                    n_ep=ne,
                                    fit_s=ft,
                                )
                            )
                            print(res[-1], flush=True)
                        if kind == "ff":
                            p = t.predict(Xva)
                            res.append(
                                dict(
                                    data=name,
                                    seed=seed,
                                    design=f"{kind}-{cname}-{'es' if es else 'full'}-ownhead",
                                    acc=accuracy_score(yva, p),
                                    f1=f1_score(yva, p, average="macro"),
                                )
                            )
        json.dump(
            res,
            open(
                ROOT / "benchmarks" / "results" / f"explore_{'_'.join(names or ['all'])}.json",
                "w",
            ),
        )


if __name__ == "__main__":
    main()
