"""The operator process collects garbage less often than CPython's defaults (see runner.tune_garbage_collector)."""

from __future__ import annotations

import gc

from epj.operator.runner import GC_YOUNG_THRESHOLD, tune_garbage_collector


def test_the_operator_raises_the_young_generation_threshold() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_garbage_collector()
        young, middle, old = gc.get_threshold()
        assert young == GC_YOUNG_THRESHOLD and young >= 50_000  # the default 700 cost a third of a burst's CPU
        assert (middle, old) == (20, 100)
        assert gc.isenabled()  # tuned, never switched off: cycles are still collected
    finally:
        gc.set_threshold(*before)
