"""The pipeline benchmark's arithmetic: whose CPU counts as the services', and the ceiling
that every process's CPU per report sets on a machine's throughput."""

from __future__ import annotations

import os

import pytest

from bench.baseline import Run
from bench.pipeline import Checkpoint, LaporRun, summarise

pytestmark = pytest.mark.unit


def _summary() -> dict[str, object]:
    reports = 100
    start = {"devdb": 1.0, "intake": 2.0, "routing": 1.0, "broker": 10.0, "bench": 3.0}
    cpu = {"devdb": 0.5, "intake": 0.4, "routing": 0.6, "broker": 0.8, "bench": 0.2}
    lapor = LaporRun(
        Run("LAPOR", reports, 5.0, [0.01] * reports),
        [
            Checkpoint(0, 0.0, start),
            Checkpoint(reports, 5.0, {k: v + cpu[k] for k, v in start.items()}),
        ],
    )
    raw = Run("raw", reports, 5.0, [0.005] * reports)
    return summarise(
        lapor,
        raw,
        {"relays": 0.2, "broker": 0.3, "bench": 0.1},
        cpu,
        {"intake": {"insert": 100}},
        {},
    )


def test_the_services_cpu_leaves_out_the_stand_in_the_broker_and_the_benchmark() -> None:
    result = _summary()
    assert result["services_cpu_ms_per_report"] == 10.0  # intake 4 + routing 6
    assert result["raw_cpu_ms_per_report"] == 2.0  # the relays alone, as before
    assert result["services_over_raw_cpu"] == 5.0
    flatness = result["flatness"]
    assert isinstance(flatness, list)
    assert flatness[0]["services_cpu_ms_per_report"] == 10.0


def test_every_process_counts_towards_the_ceiling() -> None:
    result = _summary()
    assert result["every_process_cpu_ms_per_report"] == {"lapor": 25.0, "raw": 6.0}
    assert result["raw_cpu_ms_per_report_by_process"] == {
        "relays": 2.0,
        "broker": 3.0,
        "bench": 1.0,
    }
    cores = os.cpu_count() or 1
    assert result["ceiling_reports_per_s"] == {
        "lapor": round(1000 * cores / 25.0, 1),
        "raw": round(1000 * cores / 6.0, 1),
    }
