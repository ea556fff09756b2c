"""Private training machinery shared by the torch estimators.

``torch_base`` (numeric estimators), ``body`` (estimators that fine-tune a
sentence-transformers body), ``tokens``, ``labels`` (the label contract, classifier base),
``nn`` (torch modules), ``optim``, ``rollback``, ``early_stopping``, ``full_batch``.
May import ``embkit._core``; never the public families.
"""
