"""Beyond one batch in memory: ``partial_pipeline`` (PartialPipeline, make_partial_pipeline)
and ``distributed`` (encode Dask bags and data frames in parallel partitions).
May import ``embkit._core`` and ``embkit.encoders``.
"""
