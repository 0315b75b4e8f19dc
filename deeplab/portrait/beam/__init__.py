"""Portrait mode and its person-quality evaluation as Apache Beam pipelines (the ``beam`` extra).

The network runs through Beam's RunInference (:mod:`.handler`), so one job runs locally on the
DirectRunner and unchanged on Dataflow, Flink or Spark; decoding, matting, compositing and
writing are ``infer.py``'s own functions (:mod:`.pipeline`). Nothing outside this package imports
it, so the default install and every ``--help`` stay free of Beam.
"""
