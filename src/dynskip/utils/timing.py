"""Wall-clock timing that compares variants fairly: one process, interleaved, median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved_samples(
    variants: Mapping[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str = "cpu",
    clock: Callable[[], float] = time.perf_counter,
    after_round: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Seconds of every timed call of each variant, timed round-robin so drift hits all of them alike.

    Interleaving matters on a shared machine: a background load that comes and goes would otherwise
    favour whichever variant ran in the quiet period. ``warmup`` untimed rounds come first; ``clock``
    is the time source (``time.process_time`` counts this process's CPU time); ``after_round`` is
    called after every round, warm-up ones included (a progress bar).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        for fn in variants.values():
            fn()
        if after_round is not None:
            after_round()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            synchronize(device)
            start = clock()
            fn()
            synchronize(device)
            samples[name].append(clock() - start)
        if after_round is not None:
            after_round()
    return samples


def interleaved_median(
    variants: Mapping[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Median seconds per call of each variant, timed round-robin (:func:`interleaved_samples`)."""
    samples = interleaved_samples(variants, repeats, warmup, device)
    return {name: statistics.median(values) for name, values in samples.items()}
