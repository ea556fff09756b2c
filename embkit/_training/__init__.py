"""Private training machinery shared by the torch estimators.

``torch_base`` is the base of every estimator trained on numeric arrays (fit = reset +
passes, partial_fit = one pass), ``labels`` adds the label contract (``classes_``, label
codes, class weights) and the classifier base, ``nn`` holds the plain torch modules (no
scikit-learn), ``body`` the helpers that train a sentence-transformers body.
May import ``embkit._core``; never the public families (encoders, tuning, heads, io, cli).
"""
