"""Tuners and the learners they wrap: reshape an embedding space towards labels.

``_tuner`` (shared), ``feedforward``, ``neighbors`` (labels of the nearest rows),
``contrastive`` (learner on pairs), ``contrastive_tuner``, ``sbert`` and ``sbert_tuner``
(SetFit-style body training), ``pairs``.
May import ``embkit._core`` and ``embkit._training``.
"""
