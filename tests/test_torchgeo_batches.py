"""Batched reading in the torchgeo plugin: ``__getitems__``, the uncopied collation, the reused
arrays and the reading threads give what ``ds[i]`` and ``default_collate`` give, value for value."""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest
import rasterio
import torch
from torch.utils.data import DataLoader, Subset, default_collate

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.reading.buffers import ArrayPool
from sen12ms_plugins.torchgeo import threads
from sen12ms_plugins.torchgeo.collate import BatchedSample, collate_batched

from .realdata import PID, place_real_triplet, real_file

SEN12MS = plugin.SEN12MS
ORDER = [5, 0, 3, 3, -1, 7, 2]
OPTIONS = [
    {},
    {"label": "DFC"},
    {"label": "LCCS_SH", "scene_label": "multi"},
    {"label": "LCCS_LU"},
    {"scene_label": "single", "metadata": True},
    {"bands": ("B04", "VV", "B02", "VH")},  # sensors interleaved: scattered targets
    {"bands": ("VH",)},
    {"s1_nan": -50.0},
]


@pytest.fixture(params=["compact", "real"])
def root(request, sample_root, real_layout_root):
    return sample_root if request.param == "compact" else real_layout_root


def assert_same_samples(got, want) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert list(a) == list(b)
        for key in a:
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
                assert a[key].numpy().tobytes() == b[key].numpy().tobytes(), key
            else:
                assert a[key] == b[key], key


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(map(str, o.values())) or "default")
def test_getitems_is_getitem_for_every_option(root, options):
    ds = SEN12MS(root, "train", checksum=False, **options)
    batch = ds.__getitems__(ORDER)
    assert all(type(sample) is BatchedSample and isinstance(sample, dict) for sample in batch)
    assert_same_samples(batch, [ds[i] for i in ORDER])


def test_getitems_equals_rasterio_on_the_real_bytes(tmp_path):
    lc = place_real_triplet(tmp_path)
    ds = SEN12MS(tmp_path, "train", checksum=False)
    [sample] = ds.__getitems__([0])
    with rasterio.open(real_file("s1")) as s1, rasterio.open(real_file("s2")) as s2:
        expected = np.concatenate([s1.read(), s2.read().astype(np.float32)])
    assert sample["image"].numpy().tobytes() == expected.tobytes()
    assert np.array_equal(sample["mask"].numpy(), lc[0].astype(np.int64))
    assert ds.patch_ids == (PID,)


def test_getitems_of_nothing_and_out_of_range(sample_root):
    ds = SEN12MS(sample_root, "train", checksum=False)
    assert ds.__getitems__([]) == []
    with pytest.raises(IndexError):
        ds.__getitems__([0, len(ds)])


def test_a_subclass_getitem_is_what_batches_hold(sample_root):
    class Tagged(SEN12MS):
        def __getitem__(self, index):
            return {**super().__getitem__(index), "tag": index}

    ds = Tagged(sample_root, "train", checksum=False)
    assert [s["tag"] for s in ds.__getitems__([2, 1])] == [2, 1]
    assert next(iter(DataLoader(ds, batch_size=2)))["tag"].tolist() == [0, 1]


def test_transforms_see_each_sample_once_in_batch_order(sample_root):
    seen = []

    def transform(sample):
        seen.append(sample["image"].clone())
        return {"image": sample["image"][:, :8, :8] * 2, "mask": sample["mask"][:8, :8]}

    ds = SEN12MS(sample_root, "train", checksum=False, transforms=transform)
    batch = ds.__getitems__([4, 1])
    plain = SEN12MS(sample_root, "train", checksum=False)
    assert [torch.equal(s, plain[i]["image"]) for s, i in zip(seen, [4, 1])] == [True, True]
    assert_same_samples(batch, [ds[4], ds[1]])
    assert_same_samples([default_collate(batch)], [default_collate([ds[4], ds[1]])])


def test_a_bad_file_in_a_batch_raises_what_getitem_raises(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root)
    ds = SEN12MS(root, "train", checksum=False)
    ds.__getitems__([0, 1])  # learns the patch size
    bad = ds.patch_ids[3].path(root, "s2")
    bad.write_bytes(bad.read_bytes()[:500])
    with pytest.raises(PatchFileError) as single:
        ds[3]
    with pytest.raises(PatchFileError) as batched:
        ds.__getitems__([1, 3, 2])
    assert str(batched.value) == str(single.value) and bad.name in str(single.value)


def test_a_patch_of_another_size_gives_what_getitem_gives(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root)
    small = tmp_path / "small"
    make_sample(small, patch_size=16, patches_per_scene=4)
    ds = SEN12MS(root, "train", checksum=False)
    pid = ds.patch_ids[2]
    for sensor in ("s1", "s2", "lc"):
        shutil.copyfile(pid.path(small, sensor), pid.path(root, sensor))
    batch = ds.__getitems__([1, 2, 3])
    assert [tuple(s["image"].shape[1:]) for s in batch] == [(32, 32), (16, 16), (32, 32)]
    assert_same_samples(batch, [ds[1], ds[2], ds[3]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate(batch)


def test_default_collate_takes_a_batch_as_read(sample_root):
    ds = SEN12MS(sample_root, "train", checksum=False, scene_label="single", metadata=True)
    samples = ds.__getitems__([3, 1, 2])
    batch = default_collate(samples)
    assert type(batch) is dict
    # Not copied: the batch tensors are the memory the samples are views of.
    for key in ("image", "mask"):
        assert batch[key].data_ptr() == samples[0][key].data_ptr()
    assert batch["label"].data_ptr() != samples[0]["label"].data_ptr()  # stacked, as default_collate does
    plugin.unregister()
    try:
        assert_same_samples([batch], [default_collate([dict(s) for s in samples])])
        assert_same_samples([default_collate(samples)], [batch])  # without the plugin: copied, the same
    finally:
        plugin.register()
    assert plugin.is_registered()


def test_collation_copies_what_is_not_one_batch_in_order(sample_root):
    ds = SEN12MS(sample_root, "train", checksum=False)
    first, second = ds.__getitems__([0, 1, 2]), ds.__getitems__([3, 4])
    for samples in ([first[1], first[0]], [first[0], second[0]], [first[0], first[2]], first[1:]):
        stacked = torch.stack([s["image"] for s in samples])
        batch = collate_batched(samples)
        assert torch.equal(batch["image"], stacked)
    assert collate_batched(first[1:])["image"].data_ptr() == first[1]["image"].data_ptr()  # rows 1-2: a view
    assert collate_batched([first[1], first[0]])["image"].data_ptr() != first[1]["image"].data_ptr()


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_batches_equal_upstream_style_collation(real_layout_root, workers):
    ds = SEN12MS(real_layout_root, "train", checksum=False, scene_label="multi")
    sampler = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    got = list(DataLoader(ds, batch_size=4, sampler=sampler, num_workers=workers))
    want = [default_collate([dict(ds[i]) for i in sampler[k : k + 4]]) for k in range(0, len(sampler), 4)]
    assert_same_samples(got, want)
    assert [b["image"].is_shared() for b in got] == [workers > 0] * len(got)  # from a worker: in shared memory
    subset = list(DataLoader(Subset(ds, [2, 0, 1]), batch_size=3, num_workers=workers))
    assert_same_samples(subset, [default_collate([dict(ds[i]) for i in (2, 0, 1)])])


def test_samples_kept_are_never_overwritten(sample_root):
    ds = SEN12MS(sample_root, "train", checksum=False)
    kept = ds.__getitems__([0, 1])
    expected = [ds[0], ds[1]]
    for start in range(2, 12, 2):
        ds.__getitems__([start, start + 1])  # batches read while the first one is alive
    assert_same_samples(kept, expected)
    batch = default_collate(ds.__getitems__([4, 5]))
    ds.__getitems__([6, 7])
    ds.__getitems__([8, 9])
    assert_same_samples([batch], [default_collate([ds[4], ds[5]])])


def _rasterio_sample(root, pid):
    """The default sample of ``pid`` as rasterio reads its files: S1 and S2 as float32, IGBP as int64."""
    with rasterio.open(pid.path(root, "s1")) as s1, rasterio.open(pid.path(root, "s2")) as s2, \
            rasterio.open(pid.path(root, "lc")) as lc:
        return np.concatenate([s1.read(), s2.read().astype(np.float32)]), lc.read(1).astype(np.int64)


def test_single_samples_kept_are_never_overwritten_and_dropped_ones_reused(root):
    ds = SEN12MS(root, "train", checksum=False)
    kept = [ds[0], ds[1]["image"], ds[2]["mask"].view(-1)[:10]]  # a sample, a tensor, a view of one
    for i in range(3, 12):
        ds[i]
    expected = [_rasterio_sample(root, ds.patch_ids[i]) for i in range(3)]
    assert kept[0]["image"].numpy().tobytes() == expected[0][0].tobytes()
    assert np.array_equal(kept[0]["mask"].numpy(), expected[0][1])
    assert kept[1].numpy().tobytes() == expected[1][0].tobytes()
    assert np.array_equal(kept[2].numpy(), expected[2][1].ravel()[:10])
    # A sample nobody holds any more gives its memory to the next one.
    address = ds[3]["image"].data_ptr()
    assert ds[4]["image"].data_ptr() == address
    image = ds[5]["image"]
    assert image.is_contiguous() and image.untyped_storage().nbytes() == image.numel() * 4  # its own storage


def test_array_pool_hands_out_only_arrays_nothing_refers_to():
    pool = ArrayPool(keep=2)
    a = pool.get((4, 3), np.float32)
    a_ptr = a.__array_interface__["data"][0]
    b = pool.get((4, 3), np.float32)
    assert b.__array_interface__["data"][0] != a_ptr  # a is in use
    row = torch.from_numpy(a[1])
    del a
    c = pool.get((4, 3), np.float32)
    assert c.__array_interface__["data"][0] != a_ptr  # a tensor on one of its rows keeps it in use
    del row, c
    again = pool.get((2, 3), np.float32)  # fewer rows: the leading rows of a free pooled array
    assert again.shape == (2, 3) and again.__array_interface__["data"][0] == a_ptr
    other = pool.get((2, 3), np.int64)
    assert other.dtype == np.int64 and len(pool) == 2
    del b, other, again
    assert pool.get((4, 3), np.float32).__array_interface__["data"][0] == a_ptr


class _ThreadsHere(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return threads.reading_threads()


def test_reading_threads_follow_torch_and_the_cores_allowed(monkeypatch):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
        assert threads.reading_threads() == 3  # torch's count
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5})
        assert threads.reading_threads() == 1  # one core allowed: no helper
        monkeypatch.undo()
        assert list(DataLoader(_ThreadsHere(), batch_size=None, num_workers=1)) == [1, 1]  # workers read alone
    finally:
        torch.set_num_threads(previous)


def test_run_does_not_wait_for_a_helper_that_gets_no_core():
    # The one helper is kept busy, as on a machine whose cores are all taken: run() does
    # every task on the calling thread and returns without waiting for the helper.
    release = threading.Event()
    work = threads._ensure_helpers(1)
    for _ in range(len(threads._helpers)):
        work.put(release.wait)
    ran = []
    try:
        threads.run([lambda k=k: ran.append((k, threading.get_ident())) for k in range(5)], 2)
        assert [k for k, _ in ran] == [0, 1, 2, 3, 4]
        assert {ident for _, ident in ran} == {threading.get_ident()}
    finally:
        release.set()
    # Free again, the helper takes its share of the next call's tasks.
    slow = threading.Barrier(2, timeout=30)
    where = []
    threads.run([lambda: (where.append(threading.get_ident()), slow.wait())] * 2, 2)
    assert len(set(where)) == 2


@pytest.mark.parametrize("bands", [SEN12MS.BAND_SETS["all"], ("B04", "VV", "B02", "VH", "B12")],
                         ids=["all bands (S2 in row blocks)", "scattered bands"])
def test_threads_read_what_one_thread_reads(real_layout_root, monkeypatch, bands):
    ds = SEN12MS(real_layout_root, "train", checksum=False, bands=bands)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = [ds[i] for i in range(len(ds))], ds.__getitems__(list(range(len(ds))))
        torch.set_num_threads(3)
        many = [ds[i] for i in range(len(ds))], ds.__getitems__(list(range(len(ds))))
    finally:
        torch.set_num_threads(previous)
    assert_same_samples(many[0], one[0])
    assert_same_samples(many[1], one[1])


def test_threads_raise_the_first_error_in_task_order():
    done = []

    def task(k):
        def run():
            if k in (2, 5):
                raise ValueError(f"task {k}")
            done.append(k)
        return run

    with pytest.raises(ValueError, match="task 2"):
        threads.run([task(k) for k in range(8)], 3)
    assert sorted(done) == [0, 1, 3, 4, 6, 7]  # the others still ran
