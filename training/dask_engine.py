"""Scale-out on Dask: LightGBM through ``lightgbm.dask`` and per-series model chunks as Dask tasks.

The models layer exposes two execution seams (context variables) and knows nothing of Dask:
``models.lightgbm_quantile.BOOSTER_TRAINER`` trains each booster, ``models._parallel.CHUNK_MAPPER``
maps the per-series chunks (ETS, TSB). :func:`dask_engine` points both at a Dask cluster for the
duration of a ``with`` block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from models._parallel import CHUNK_MAPPER
from models.lightgbm_quantile import BOOSTER_TRAINER

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


def lightgbm_trainer(client: Any) -> Callable[[dict[str, Any], pd.DataFrame, np.ndarray, int], Any]:
    """A booster trainer that fits with ``lightgbm.dask.DaskLGBMRegressor`` on ``client``'s workers."""
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMRegressor

    n_workers = max(1, len(client.scheduler_info()["workers"]))

    def train(params: dict[str, Any], features: pd.DataFrame, target: np.ndarray, rounds: int) -> Any:
        extra = {k: v for k, v in params.items() if k not in ("objective", "num_threads", "verbose")}
        model = DaskLGBMRegressor(
            client=client,
            objective=params["objective"],
            n_estimators=rounds,
            n_jobs=1,  # one thread per worker: workers share this machine's cores
            verbose=-1,
            **extra,
        )
        x = dd.from_pandas(features, npartitions=n_workers)
        y = dd.from_pandas(pd.Series(target, index=features.index), npartitions=n_workers)
        model.fit(x, y)
        return model.to_local().booster_

    return train


def chunk_mapper(client: Any) -> Callable[[Callable[[T], R], Sequence[T]], Iterator[R]]:
    """A chunk mapper that runs each chunk as one Dask task and yields the results in order."""

    def mapper(func: Callable[[T], R], chunks: Sequence[T]) -> Iterator[R]:
        futures = client.map(func, list(chunks), pure=False)
        for future in futures:
            yield future.result()

    return mapper


@contextmanager
def dask_engine(scheduler: str | None = None, n_workers: int = 2) -> Iterator[Any]:
    """Run the models' heavy work on Dask inside the block.

    Args:
        scheduler: Address of a running scheduler (``tcp://HOST:PORT``); None starts a local cluster.
        n_workers: Worker processes of the local cluster (one thread each).

    Yields:
        The ``dask.distributed.Client``.
    """
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    log.info("Dask engine: %s", client)
    booster_token = BOOSTER_TRAINER.set(lightgbm_trainer(client))
    chunk_token = CHUNK_MAPPER.set(chunk_mapper(client))
    try:
        yield client
    finally:
        BOOSTER_TRAINER.reset(booster_token)
        CHUNK_MAPPER.reset(chunk_token)
        client.close()
        if cluster is not None:
            cluster.close()
