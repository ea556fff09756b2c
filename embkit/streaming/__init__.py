"""Beyond one batch in memory: streaming pipelines and scaling out.

``partial_pipeline`` (PartialPipeline, make_partial_pipeline: ``partial_fit`` through a
pipeline), ``distributed`` (encode Dask bags and data frames in parallel partitions).
May import ``embkit._core`` and ``embkit.encoders``.
"""
