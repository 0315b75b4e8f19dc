"""The ``tf.distribute`` strategy named in the config, and the batch arithmetic around it.

``schedule.batch_size`` is the global batch: each step consumes that many examples in total,
split evenly over the replicas (GPUs / workers / TPU cores). Each replica's loss is its own mean
divided by the number of replicas, so the summed gradients equal those of the global mean.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def make_strategy(name: str, tpu: str = "") -> tf.distribute.Strategy:
    """``default`` | ``mirrored`` | ``multi_worker`` (cluster from ``TF_CONFIG``) | ``tpu``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("runtime.strategy multi_worker needs the TF_CONFIG environment "
                             "variable (cluster spec and this worker's task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}")


def per_replica_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
    """The batch each replica sees; the global batch must split evenly."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"global batch {global_batch} does not split over {replicas} replicas; "
                         f"use a multiple of {replicas}")
    return global_batch // replicas


def worker_task() -> tuple[str, int]:
    """(task type, index) of this process from ``TF_CONFIG`` (``("chief", 0)`` without one)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    return task.get("type", "chief"), int(task.get("index", 0))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The process that owns the run folder: the only one under single-process strategies; in a
    cluster the ``chief`` task, or worker 0 when there is no chief."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, index = worker_task()
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    if task_type == "chief":
        return True
    return task_type == "worker" and index == 0 and "chief" not in cluster
