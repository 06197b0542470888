"""Checks of the report `sen12ms demo --json` writes, shared by the consistency tests."""

from __future__ import annotations

from sen12ms_plugins.demo.crosscheck import ECOSYSTEMS


def assert_every_ecosystem_is_the_core(results: dict, split: str, expected_ids: list[str]) -> None:
    """Every ecosystem returned ``expected_ids`` for ``split``, with no difference from the
    core's arrays and the core's pixel digest."""
    for ecosystem in ECOSYSTEMS:
        assert results[ecosystem]["ids"] == expected_ids, (split, ecosystem)
        assert results[ecosystem]["difference"] is None, (split, ecosystem, results[ecosystem]["difference"])
        assert results[ecosystem]["sha256"] == results["core"]["sha256"]
