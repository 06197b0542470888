"""A prepared split through torch's ``DataLoader``: datasets' own torch format, and
``torch_loader``/``TorchSplit``, which keep the stored dtypes (uint16 stays uint16).

Every value is compared with the files as the project's reader reads them, and the
multi-label with the class list worked out by the core (``labels.dfc_scene_labels``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sen12ms_plugins.dataset import labels
from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.hf import Sen12ms, TorchSplit, table_to_numpy, torch_loader
from sen12ms_plugins.reading.reader import read_triplet

SEASONS = ["spring", "summer", "fall", "winter"]


@pytest.fixture(scope="module")
def split(sample_root, tmp_path_factory):
    builder = Sen12ms(config_name="all", root=sample_root, cache_dir=str(tmp_path_factory.mktemp("hf-torch")))
    builder.download_and_prepare()
    return builder.as_dataset(split="train")


def _check_example(root, batch: dict, k: int) -> str:
    """Example ``k`` of a batch against the files; returns its id."""
    name = batch["id"][k]
    pid = parse_patch_id(name)
    truth = read_triplet(root, pid)
    for sensor in ("s1", "s2", "lc"):
        np.testing.assert_array_equal(batch[sensor][k].numpy(), truth[sensor], err_msg=f"{name} {sensor}")
    np.testing.assert_array_equal(batch["igbp"][k].numpy(), truth["lc"][0])
    _, multi = labels.dfc_scene_labels(labels.igbp_to_dfc(truth["lc"][0]))
    assert list(np.flatnonzero(batch["labels"][k].numpy())) == list(multi), name
    assert SEASONS[int(batch["season"][k])] == pid.season.split("_")[1]
    return name


def test_torch_format_goes_through_a_plain_dataloader(split, sample_root):
    """The issue's case: every column collates, the multi-label as a fixed-size multi-hot."""
    loader = DataLoader(split.with_format("torch"), batch_size=4)
    batch = next(iter(loader))
    assert batch["labels"].shape == (4, 11) and batch["labels"].dtype == torch.bool
    assert batch["season"].dtype == torch.int64 and batch["label"].shape == (4,)
    assert batch["s2"].dtype == torch.int64, "datasets' torch format widens uint16 (what torch_loader avoids)"
    assert len(batch["id"]) == 4
    for k in range(4):
        _check_example(sample_root, batch, k)


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("num_workers", [0, 2])
def test_torch_loader_keeps_the_stored_dtypes(split, sample_root, shuffle, num_workers):
    seen = []
    for batch in torch_loader(split, batch_size=8, shuffle=shuffle, num_workers=num_workers):
        assert (batch["s1"].dtype, batch["s2"].dtype, batch["lc"].dtype) == (torch.float32, torch.uint16, torch.uint16)
        assert (batch["igbp"].dtype, batch["dfc"].dtype, batch["labels"].dtype) == (torch.uint16, torch.uint8,
                                                                                    torch.bool)
        assert batch["s2"].shape[1:] == (13, 32, 32) and batch["labels"].shape[1:] == (11,)
        seen += [_check_example(sample_root, batch, k) for k in range(len(batch["id"]))]
    assert sorted(seen) == sorted(p.name for p in compute_splits(build_index(sample_root))["train"])
    assert (seen == list(split["id"])) is not shuffle  # in order: the split's own order


def test_any_dataloader_can_use_torch_split(split, sample_root):
    """default_collate stacks the examples of TorchSplit's batches: the same batches."""
    ours = next(iter(torch_loader(split, batch_size=5)))
    plain = next(iter(DataLoader(TorchSplit(split), batch_size=5)))
    assert set(plain) == set(ours)
    for key, value in ours.items():
        if isinstance(value, torch.Tensor):
            assert plain[key].dtype == value.dtype and torch.equal(plain[key], value), key
        else:
            assert plain[key] == value
    one = TorchSplit(split)[3]
    assert one["s2"].shape == (13, 32, 32) and one["id"] == split[3]["id"]


def test_a_torch_split_used_here_goes_to_spawned_workers(split, sample_root):
    """A TorchSplit indexed in this process is pickled for worker processes that spawn (the
    start method of macOS and Windows): its reused arrays stay here."""
    dataset = TorchSplit(split)
    dataset.__getitems__([0, 1])
    batches = list(DataLoader(dataset, batch_size=4, num_workers=1, multiprocessing_context="spawn"))
    assert sum(len(batch["id"]) for batch in batches) == len(split)
    _check_example(sample_root, batches[0], 3)


def test_columns_and_batches_own_their_memory(split):
    loader = torch_loader(split, batch_size=4, columns=["s2", "label"])
    first = next(iter(loader))
    assert set(first) == {"s2", "label"}
    kept = first["s2"].clone()
    first["s2"].fill_(7)  # writable (torch.uint16 has copies, not arithmetic): nothing shared with the cache
    again = next(iter(torch_loader(split, batch_size=4, columns=["s2"])))
    assert torch.equal(again["s2"], kept)
    # a batch kept while the next ones are read is never overwritten
    batches = list(torch_loader(split, batch_size=4, columns=["s2", "id"]))
    for batch in batches:
        for k, name in enumerate(batch["id"]):
            assert torch.equal(batch["s2"][k], TorchSplit(split)[split["id"].index(name)]["s2"])


def test_table_to_numpy_gives_views_of_one_piece_and_copies_of_several(split):
    batch = next(iter(split.with_format("arrow").iter(batch_size=4)))
    arrays = table_to_numpy(batch)
    assert arrays["s2"].dtype == np.uint16 and arrays["s2"].shape == (4, 13, 32, 32)
    assert not arrays["s2"].flags.owndata and not arrays["s2"].flags.writeable  # a view of the Arrow memory
    assert arrays["labels"].dtype == np.bool_ and arrays["labels"].shape == (4, 11)
    import pyarrow as pa

    pieces = pa.concat_tables([batch.slice(0, 2), batch.slice(2, 2)])
    assert pieces["s2"].num_chunks == 2
    joined = table_to_numpy(pieces)
    for key in ("s2", "s1", "labels", "season"):
        np.testing.assert_array_equal(joined[key], arrays[key])
