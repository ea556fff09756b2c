"""Classifiers trained end to end: a differentiable head and full fine-tuning.

``differentiable`` (DifferentiableHead on embeddings), ``finetune``
(FineTuneClassifier: body and head trained together on texts).
May import ``embkit._core`` and ``embkit._training``.
"""
