"""Classifiers trained end to end: ``differentiable`` (DifferentiableHead on embeddings),
``finetune`` (FineTuneClassifier: body and head on texts).
May import ``embkit._core``, ``embkit._training`` and ``embkit.io``.
"""
