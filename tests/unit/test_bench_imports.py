"""Every benchmark module imports: a bench is run by hand, so an import broken by a change to a
module it borrows from (bench.api_writes once lost bench.api_reads' ``environment``) would
otherwise be found only by the next person measuring."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bench

BENCH_MODULES = sorted(module.name for module in pkgutil.iter_modules(bench.__path__, prefix="bench."))


def test_the_benchmarks_are_found() -> None:
    assert {"bench.api_reads", "bench.api_writes", "bench.billing", "bench.city"} <= set(BENCH_MODULES)


@pytest.mark.parametrize("name", BENCH_MODULES)
def test_a_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    # bench.kept_store is shared set-up; every other module is a benchmark run as ``python -m``.
    assert name == "bench.kept_store" or callable(getattr(module, "main", None)), f"{name} has no main()"
