"""Registering the torchgeo plugin is explicit: ``import sen12ms_plugins.torchgeo`` does it,
``import torchgeo`` does not (no ``.pth`` file, no import hook).  A name bound to torchgeo's
own class before the import keeps that class; with one of the plugin's split names it
answers with one line saying to import the plugin first, and with its own splits it is
torchgeo's class unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torchgeo.datamodules
import torchgeo.datasets

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.torchgeo import UnknownSplitError, UpstreamSEN12MS

from .small_roots import torchgeo_shaped_root

HINT = ("is a sen12ms-plugins split, but this is torchgeo's own SEN12MS class (bound before the plugin was "
        "registered): import sen12ms_plugins.torchgeo before 'from torchgeo.datasets import SEN12MS'")


@pytest.fixture(scope="module")
def tg_root(sample_root, tmp_path_factory):
    return torchgeo_shaped_root(sample_root, tmp_path_factory.mktemp("registration") / "root")


def test_a_name_bound_before_the_import_gets_a_one_line_hint(tg_root):
    code = textwrap.dedent(f"""
        import json, sys
        from torchgeo.datasets import SEN12MS            # bound first: torchgeo's own class
        out = {{"plugin_loaded_by_torchgeo": any(m.startswith("sen12ms_plugins") for m in sys.modules)}}
        try:
            SEN12MS({str(tg_root)!r}, split="holdout")
        except AssertionError as exc:
            out["before"] = [type(exc).__name__, str(exc)]
        import sen12ms_plugins.torchgeo                  # registration
        from torchgeo.datasets import SEN12MS as Now
        out["same_class"] = SEN12MS is Now
        for split in ("holdout", "validation", "train_minus_validation", "foo"):
            try:
                SEN12MS({str(tg_root)!r}, split=split, checksum=False)
            except AssertionError as exc:
                out[split] = [type(exc).__name__, str(exc)]
        out["train"] = len(SEN12MS({str(tg_root)!r}, "train", checksum=False))
        out["holdout_now"] = len(Now({str(tg_root)!r}, split="holdout", checksum=False))
        print(json.dumps(out))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    # import torchgeo alone loads nothing of this package; torchgeo's bare assertion stays
    assert out["plugin_loaded_by_torchgeo"] is False
    assert out["before"] == ["AssertionError", ""]
    assert out["same_class"] is False
    for split in ("holdout", "validation", "train_minus_validation"):
        name, message = out[split]
        assert name == "UnknownSplitError" and message.startswith(f"split {split!r} {HINT}"), out[split]
        assert "\n" not in message
    assert out["foo"] == ["AssertionError", ""]  # torchgeo's own answer to an unknown name
    assert out["train"] == 16  # torchgeo's class on its own split: train_list.txt, as upstream
    assert out["holdout_now"] == 4


def test_upstreams_own_splits_are_unchanged(tg_root):
    ds = UpstreamSEN12MS(tg_root, "test", checksum=False)
    assert type(ds) is UpstreamSEN12MS and len(ds) == 4 and ds[0]["image"].shape[0] == 15
    with pytest.raises(UnknownSplitError, match=r"import sen12ms_plugins\.torchgeo before"):
        UpstreamSEN12MS(tg_root, "validation", checksum=False)
    with pytest.raises(TypeError, match="bogus"):
        UpstreamSEN12MS(tg_root, "holdout", bogus=1)


def test_unregister_gives_torchgeo_its_class_back_whole(tg_root):
    dm_class = torchgeo.datamodules.SEN12MSDataModule
    try:
        plugin.unregister()
        assert not plugin.is_registered()
        assert torchgeo.datasets.SEN12MS is UpstreamSEN12MS
        assert "val_dataloader" not in vars(dm_class)  # inherited again, as before registration
        with pytest.raises(AssertionError) as raised:
            UpstreamSEN12MS(tg_root, "holdout", checksum=False)
        assert type(raised.value) is AssertionError and str(raised.value) == ""
    finally:
        plugin.register()
    assert plugin.is_registered() and "val_dataloader" in vars(dm_class)
