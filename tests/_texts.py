"""A small labelled sentiment set shared by the text-pipeline tests."""

from __future__ import annotations

import numpy as np

POSITIVE = [
    "what a wonderful day",
    "I love this film",
    "such a great idea",
    "this makes me happy",
    "a delightful surprise",
    "the best meal ever",
    "I am thrilled with it",
    "fantastic work, well done",
    "brilliant and fun",
    "a joy to watch",
    "lovely people and place",
    "I really enjoyed it",
]
NEGATIVE = [
    "what an awful day",
    "I hate this film",
    "such a terrible idea",
    "this makes me sad",
    "a horrible shock",
    "the worst meal ever",
    "I am furious about it",
    "dreadful work, badly done",
    "boring and dull",
    "a pain to watch",
    "rude people, dirty place",
    "I really disliked it",
]
TEXTS = POSITIVE + NEGATIVE
LABELS = np.array(["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE))
