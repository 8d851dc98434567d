"""Engine benchmark: row cardinality and fields, JSON payload, argument errors (shrunk workloads)."""

from __future__ import annotations

import json

import pytest
import torch

from dynskip.benchmarks.engine import format_table, run_engine_bench, write_bench_json

FIELDS = {"fraction", "dense_s", "sparse_s", "auto_s", "speedup", "ideal", "efficiency", "sparse_speedup"}
FIELDS |= {"rounds"}


@pytest.mark.parametrize(
    ("workload", "size", "depth"),
    [("basicvsr-trunk", (16, 24), 2), ("ugsp-decoder", (12, 20), 1), ("skipvsr-v2-trunk", (16, 24), 2)],
)
def test_bench_rows(workload, size, depth):
    rows = run_engine_bench(workload, (1.0, 0.5), repeats=2, tile=8, size=size, depth=depth)
    assert [r["fraction"] for r in rows] == [1.0, 0.5]
    for row in rows:
        assert set(row) == FIELDS and row["rounds"] == 2
        assert min(row["dense_s"], row["sparse_s"], row["auto_s"]) > 0
        assert row["ideal"] == pytest.approx(1 / row["fraction"])
        assert row["efficiency"] == pytest.approx(row["speedup"] * row["fraction"])
    table = format_table(rows).splitlines()
    assert len(table) == 2 + len(rows) and table[2].startswith("| 1.00 |")


def test_bench_cpu_clock_needs_one_thread():
    threads = torch.get_num_threads()
    small = {"repeats": 1, "tile": 8, "size": (8, 16), "depth": 1, "clock": "cpu"}
    try:
        torch.set_num_threads(1)
        assert run_engine_bench("basicvsr-trunk", (0.5,), **small)[0]["dense_s"] > 0
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match="needs the CPU device and one torch thread, got cpu with 2"):
            run_engine_bench("basicvsr-trunk", (0.5,), **small)
    finally:
        torch.set_num_threads(threads)


def test_write_bench_json_holds_rows_and_machine(tmp_path):
    rows = [{"fraction": 0.5, "dense_s": 2.0, "sparse_s": 1.0, "speedup": 2.0}]
    path = write_bench_json(rows, tmp_path / "out" / "bench.json", {"workload": "ugsp-decoder", "tile": 16})
    payload = json.loads(path.read_text())
    assert payload["rows"] == rows
    meta = payload["meta"]
    assert meta["workload"] == "ugsp-decoder" and meta["tile"] == 16
    assert meta["torch"] == torch.__version__ and meta["threads"] == torch.get_num_threads()
    assert meta["cpu_count"] >= 1
    with pytest.raises(TypeError, match="rows must be a list of dicts"):
        write_bench_json({"a": 1}, tmp_path / "x.json")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"workload": "vsr"}, "workload must be one of"),
        ({"repeats": 0}, "repeats must be an int >= 1, got 0"),
        ({"fractions": (0.0,)}, r"fractions must be non-empty and in \(0, 1\], got \(0.0,\)"),
        ({"fractions": ()}, "fractions must be non-empty"),
        ({"depth": 0}, "depth must be an int >= 1, got 0"),
        ({"clock": "gpu"}, "clock must be 'wall' or 'cpu', got 'gpu'"),
    ],
)
def test_bench_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_engine_bench(**{"size": (8, 8), "depth": 1, "tile": 8, **kwargs})


@pytest.mark.slow
def test_bench_full_trunk_sparse_beats_dense_at_a_quarter():
    """The real workload: at 25% active tiles the engine must at least halve the trunk's time.

    One thread and CPU time, so that other jobs on a shared machine do not decide the outcome.
    """
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        rows = run_engine_bench("basicvsr-trunk", (0.25,), repeats=2, clock="cpu")
    finally:
        torch.set_num_threads(threads)
    assert rows[0]["speedup"] > 2.0


def test_shared_mask_workload_gives_every_block_the_same_mask():
    from dynskip.benchmarks.engine import WORKLOAD_SPECS, _Workload

    bench = _Workload(WORKLOAD_SPECS["skipvsr-v2-trunk"], torch.device("cpu"), 8, 0, (16, 24), 3)
    masks = bench.masks(0.5, torch.Generator().manual_seed(0))
    assert len(masks) == 3 and all(m is masks[0] for m in masks)
    independent = _Workload(WORKLOAD_SPECS["basicvsr-trunk"], torch.device("cpu"), 8, 0, (16, 24), 3)
    assert len({id(m) for m in independent.masks(0.5, torch.Generator().manual_seed(0))}) == 3


def test_cli_lists_every_workload():
    from dynskip.benchmarks.engine import WORKLOADS
    from dynskip.cli.main import BENCH_WORKLOADS

    assert BENCH_WORKLOADS == WORKLOADS
