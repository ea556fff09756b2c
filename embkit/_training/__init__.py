"""Private training machinery shared by the torch estimators.

``torch_base`` is the base of every estimator trained on numeric arrays (fit = reset +
passes, partial_fit = one pass), ``body`` the base of those that fine-tune a
sentence-transformers body (the same named steps, saved-state hooks), ``tokens`` their
tokenised batches, ``labels`` the label contract (``classes_``, label codes, class
weights) and the classifier base, ``nn`` the plain torch modules (no scikit-learn),
``optim`` AdamW and the warm-up/decay schedule, ``rollback`` the undo of a failed call,
``full_batch`` the canonical rows of a pass that fits in one batch (a sample weight is
then exactly a repetition).
May import ``embkit._core``; never the public families (encoders, tuning, heads, io, cli).
"""
