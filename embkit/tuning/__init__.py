"""Tuners and the learners they wrap: reshape an embedding space towards labels.

``_tuner`` (what the tuners share), ``feedforward`` (FeedForwardTuner), ``contrastive``
(ContrastiveLearner on pairs), ``contrastive_tuner`` (ContrastiveTuner on ``(X, y)``),
``sbert`` (SbertLearner) and ``sbert_tuner`` (SbertTuner): SetFit-style training of the
encoder body itself, ``pairs`` (pair sampling, vectorised).
May import ``embkit._core`` and ``embkit._training``.
"""
