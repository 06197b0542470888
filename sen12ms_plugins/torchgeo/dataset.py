"""SEN12MS as a torchgeo dataset: upstream's class, with the project's splits and core."""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torchgeo.datasets.sen12ms as _upstream_module
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError

from ..acquisition import verify
from ..dataset import facts, labels
from ..dataset.ids import PatchId, read_patch_list
from ..dataset.index import build_index
from ..dataset.splits import ALIASES, SPLITS, UPSTREAM_LISTS, Splits, canonical_split, compute_splits
from ..errors import PatchFileError, SEN12MSError
from ..reading.buffers import ArrayPool
from ..reading.reader import announced, georeference, mark_announced, probe_layouts, read_file
from . import threads
from .collate import BatchedSample

Sample = dict[str, Any]


def _original_class() -> type:
    """torchgeo's own SEN12MS class, also when this plugin has already replaced the name."""
    current = _upstream_module.SEN12MS
    return next(c for c in current.__mro__ if c.__module__ == _upstream_module.__name__)


UpstreamSEN12MS: type = _original_class()
# The installed torchgeo's defaults (``checksum`` became True in 0.10): ours are the same.
_DEFAULTS = {name: p.default for name, p in inspect.signature(UpstreamSEN12MS.__init__).parameters.items()}

#: Split names the torchgeo class accepts: the core's, plus torchgeo's ``test``.
SPLIT_NAMES = (*SPLITS, *ALIASES)
#: The splits torchgeo's own class accepts (it asserts ``split in ['train', 'test']``).
UPSTREAM_SPLITS = ("train", "test")
# The dtypes of a sample's image and mask, in numpy's terms (the arrays batches are read into).
_NUMPY_DTYPES = {torch.float32: np.float32, torch.int64: np.int64}
SCENE_LABELS = ("single", "multi")


class UnknownSplitError(SEN12MSError, ValueError, AssertionError):
    """An unknown split name.  It is an AssertionError because upstream asserts the split."""


def upstream_init_with_hint(init: Callable[..., None]) -> Callable[..., None]:
    """torchgeo's own ``__init__``, unchanged for its splits, that answers one of the plugin's
    split names (``holdout``, ``validation``, ``train_minus_validation``) with an
    :class:`UnknownSplitError` of one line saying to import the plugin first, where torchgeo
    raises a bare ``AssertionError``.  Registration installs it on torchgeo's class, so it
    reaches the name a user bound before the plugin was imported."""
    signature = inspect.signature(init)
    default = signature.parameters["split"].default

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            split = signature.bind(self, *args, **kwargs).arguments.get("split", default)
        except TypeError:  # torchgeo's own __init__ names the bad argument
            split = default
        if isinstance(split, str) and split in SPLIT_NAMES and split not in UPSTREAM_SPLITS:
            raise UnknownSplitError(
                f"split {split!r} is a sen12ms-plugins split, but this is torchgeo's own SEN12MS class "
                f"(bound before the plugin was registered): import sen12ms_plugins.torchgeo before "
                f"'from torchgeo.datasets import SEN12MS', or use sen12ms_plugins.torchgeo.SEN12MS"
            )
        init(self, *args, **kwargs)

    return __init__


class SEN12MS(UpstreamSEN12MS):
    """SEN12MS dataset, a drop-in for :class:`torchgeo.datasets.SEN12MS`.

    SEN12MS holds triplets of co-registered 256x256 px patches at 10 m (the figures:
    :mod:`sen12ms_plugins.dataset.facts`): Sentinel-1 SAR (VV, VH; float32 dB),
    Sentinel-2 top-of-atmosphere reflectance (13 bands; uint16 read as float) and
    MODIS land cover (IGBP and three LCCS layers), from scenes over the four seasons.  Samples are those of upstream:
    ``image`` float32 ``[C, H, W]`` holding ``bands`` in the order given, ``mask``
    int64 ``[H, W]``, the IGBP layer by default.

    Splits (``split``), the same members as in every ecosystem this project supports:

    * ``train``: every complete triplet outside the official hold-out scenes, except
      the damaged patch (``facts.TRAIN_PATCHES`` on the full dataset);
    * ``holdout``, or torchgeo's name ``test``: the hold-out scenes
      (``facts.HOLDOUT_PATCHES``);
    * ``validation``: about 10% of ``train`` in whole scenes, every season;
    * ``train_minus_validation``: ``train`` without ``validation``.

    When upstream's ``train_list.txt`` or ``test_list.txt`` is in ``root`` it defines
    ``train`` or ``test``/``holdout`` exactly as in torchgeo; otherwise the members
    come from an index of the files present (cached in ``root/.sen12ms``), ordered
    as upstream's lists order them (by S2 file name).

    ``checksum=True`` runs the core's check (:func:`sen12ms_plugins.acquisition.verify.check_root`):
    the archives in ``root`` are md5-verified once and remembered while unchanged
    (size, modification time, inode), and the extracted tree is checked for missing
    files; the patch lists present are md5-checked, as upstream does.

    Beyond upstream, keyword-only:

    * ``label``: the ``mask`` layer: ``"IGBP"`` (1-17), ``"DFC"`` (the simplified
      10-class scheme of the 2020 Data Fusion Contest, 1-10) or an LCCS layer
      (``"LCCS_LC"``, ``"LCCS_LU"``, ``"LCCS_SH"``; 255 = unclassified);
    * ``scene_label``: adds ``label`` for scene classification (Schmitt & Wu 2021),
      in the simplified classes: ``"single"`` gives the most frequent class (int64,
      1-10; 0 if no pixel is labelled), ``"multi"`` an int64 multi-hot vector of 11
      entries whose entry *k* is class *k* (entry 0, no data, is never set), set for
      every class covering at least ``multi_label_threshold`` of the patch;
    * ``metadata``: adds ``patch_id`` (e.g. ``ROIs1158_spring_124_p100``),
      ``season`` (``spring`` …), ``scene`` (int), ``crs`` (e.g. ``EPSG:32650``) and
      ``bounds`` (float64 ``[left, bottom, right, top]`` in that CRS);
    * ``s1_nan``: Sentinel-1 backscatter holds NaN where the SAR data is missing
      (notably the damaged patch ROIs1868_summer scene 146 patch 202, which no split
      contains but a patch list may).  None keeps NaN, as upstream; a number
      replaces NaN in the S1 bands with it.

    Files are read with the project's reader: one open per file, uncompressed
    GeoTIFFs parsed directly (bit-identical to rasterio), only the sensors and
    bands needed.
    """

    #: Label layers ``label`` accepts.
    LABELS: ClassVar[tuple[str, ...]] = tuple(labels.SCHEMES)

    def __init__(
        self,
        root: str | os.PathLike[str] = _DEFAULTS["root"],
        split: str = _DEFAULTS["split"],
        bands: Sequence[str] = _DEFAULTS["bands"],
        transforms: Callable[[Sample], Sample] | None = _DEFAULTS["transforms"],
        checksum: bool = _DEFAULTS["checksum"],
        *,
        label: str = "IGBP",
        scene_label: str | None = None,
        multi_label_threshold: float = labels.MULTI_LABEL_THRESHOLD,
        metadata: bool = False,
        s1_nan: float | None = None,
    ) -> None:
        """Initialize a new SEN12MS dataset instance.

        Args:
            root: folder holding the season folders (and, optionally, the archives
                and upstream's patch lists)
            split: ``train``, ``holdout`` (or ``test``), ``validation`` or
                ``train_minus_validation``
            bands: band names from :attr:`band_names`, in the order wanted
            transforms: a function/transform that takes a sample and returns it transformed
            checksum: verify the archives (remembered) or the tree, and the patch lists
            label: ``mask`` layer, one of :attr:`LABELS`
            scene_label: None, ``"single"`` or ``"multi"``
            multi_label_threshold: least share of a class in a multi-label (0-1]
            metadata: add patch id, season, scene, CRS and bounds to each sample
            s1_nan: value replacing NaN in Sentinel-1 bands (None keeps NaN)

        Raises:
            AssertionError: if ``split`` is unknown (an :class:`UnknownSplitError`)
            ValueError: if a band, label layer or option is invalid
            DatasetNotFoundError: if the dataset is not in ``root`` or does not verify
            EmptySplitError: if ``root`` holds SEN12MS but no patch of ``split``
        """
        try:
            name = canonical_split(split)
        except ValueError as exc:
            raise UnknownSplitError(str(exc)) from None
        self._validate_bands(bands)
        if label not in labels.SCHEMES:
            raise ValueError(f"unknown label layer {label!r}; expected one of {', '.join(labels.SCHEMES)}")
        if scene_label is not None and scene_label not in SCENE_LABELS:
            raise ValueError(f"unknown scene_label {scene_label!r}; expected None or one of {', '.join(SCENE_LABELS)}")
        if not 0 < multi_label_threshold <= 1:
            raise ValueError(f"multi_label_threshold must be in (0, 1], got {multi_label_threshold}")
        if s1_nan is not None and not np.isfinite(s1_nan):
            raise ValueError(f"s1_nan must be a finite number or None, got {s1_nan}")

        self.band_indices = torch.tensor([self.band_names.index(b) for b in bands]).long()
        self.bands = bands
        self.root = root
        self.split = split
        self.transforms = transforms
        self.checksum = checksum
        self.label = label
        self.scene_label = scene_label
        self.multi_label_threshold = multi_label_threshold
        self.metadata = metadata
        self.s1_nan = s1_nan
        self._plan = _ReadPlan(bands, label, scene_label)
        self._splits: Splits | None = None
        self._pools = _Pools()
        self._patch_shape: tuple[int, int] | None = None

        if not _has_season_folder(root):
            raise DatasetNotFoundError(self)
        if checksum:
            problems = self._verification_problems()
            if problems:
                error = DatasetNotFoundError(self)
                error.add_note("verification failed:\n" + "\n".join(f"  {p}" for p in problems))
                raise error
        #: The split's triplets, in sample order.
        self.patch_ids: tuple[PatchId, ...] = self._members(name)
        #: Upstream's form of the same: S2 file names.
        self.ids: list[str] = [pid.filename("s2") for pid in self.patch_ids]
        if self.patch_ids:
            # A layout the fast reader leaves to rasterio is announced now, in the main process,
            # rather than by every DataLoader worker (see __getstate__).
            probe_layouts(self.root, self.patch_ids[0], ["lc", *self._plan.reads])

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a DataLoader worker started by spawn or forkserver: it takes along what
        this process announced, so that the worker does not announce it again (fork inherits it)."""
        state = {**self.__dict__, "_announced_layouts": announced()}
        del state["_pools"]  # the arrays of this process's batches: a worker reads into its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        mark_announced(state.pop("_announced_layouts", ()))
        self.__dict__.update(state)
        self._pools = _Pools()

    def _members(self, name: str) -> tuple[PatchId, ...]:
        list_file = UPSTREAM_LISTS.get(name)
        if list_file is not None and os.path.isfile(os.path.join(self.root, list_file)):
            return tuple(read_patch_list(os.path.join(self.root, list_file)))
        index = build_index(self.root)
        if not index.triplets:
            error = DatasetNotFoundError(self)
            error.add_note(f"{self.root}: no complete SEN12MS triplet (s1, s2 and lc file) found")
            raise error
        self._splits = compute_splits(index)
        members = self._splits[name]
        # Upstream's lists are sorted by S2 file name: keep that order with or without them.
        return tuple(sorted(members, key=lambda pid: pid.filename("s2")))

    @property
    def splits(self) -> Splits:
        """Every split of ``root``, computed from an index of the files present (the core's
        :class:`~sen12ms_plugins.dataset.splits.Splits`: members, and why one is empty)."""
        if self._splits is None:
            self._splits = compute_splits(build_index(self.root))
        return self._splits

    def _verification_problems(self) -> list[str]:
        """What ``checksum=True`` finds wrong with ``root`` (empty when it verifies)."""
        expected = dict(zip(self.filenames, self.md5s))
        problems = []
        for name in UPSTREAM_LISTS.values():
            path = os.path.join(self.root, name)
            if name in expected and os.path.isfile(path):
                with open(path, "rb") as f:
                    actual = hashlib.md5(f.read()).hexdigest()
                if actual != expected[name]:
                    problems.append(f"{path}: md5 {actual}, expected {expected[name]}")
        archives = {n: m for n, m in expected.items() if n.endswith(".tar.gz")}
        if archives == dict(facts.ARCHIVE_MD5):
            # The published md5s: the core's quick check knows which md5s this root's
            # archives must have (also those recorded by a download from a mirror),
            # remembers verified archives, and checks the extracted tree.
            reports = [verify.check_root(self.root)]
        else:
            # The caller's own md5s (torchgeo's tests set them for their fake data):
            # the same two checks, against those.
            present = [n for n in archives if os.path.isfile(os.path.join(self.root, n))]
            reports = [verify.verify_tree(self.root, quiet=True)]
            if present:
                checks = {n: archives[n] for n in present}
                reports.insert(0, verify.verify_archives(self.root, names=present, checksums=checks, quiet=True))
        for report in reports:
            problems.extend(report.problems)
        return problems

    def __len__(self) -> int:
        """Return the number of samples in the split."""
        return len(self.patch_ids)

    def __getitem__(self, index: int) -> Sample:
        """Return the sample at ``index`` (IndexError beyond the end, as a list)."""
        pid = self.patch_ids[index]
        lc = read_file(os.path.join(self.root, pid.relpath("lc")), "lc", self._plan.lc_bands, dtype=np.int64)
        image = np.empty((len(self.bands), *lc.shape[1:]), dtype=np.float32)
        self._read_image(pid, image, threads.reading_threads())
        mask = self._plan.mask_of(lc)
        mask = mask if lc.shape[0] == 1 else mask.copy()  # not a view keeping the other band alive
        return self._finish({}, pid, torch.from_numpy(image), torch.from_numpy(mask), lc[-1])

    def __getitems__(self, indices: Sequence[int]) -> list[Sample]:
        """Return the samples at ``indices``: equal to ``[self[i] for i in indices]``.

        torch's DataLoader calls this for every batch (automatic batching, its default).
        The batch's triplets are read, file by file in the order of their names, into
        one image and one mask tensor whose rows the samples are: in a DataLoader
        worker in shared memory, where ``default_collate`` then finds them without
        copying (:mod:`.collate`); in any other process in arrays reused from batch to
        batch once no sample or batch made from them is alive.
        """
        if type(self).__getitem__ is not SEN12MS.__getitem__:
            return [self[i] for i in indices]  # a subclass's own samples
        pids = [self.patch_ids[i] for i in indices]
        if not pids:
            return []
        try:
            images, masks, igbps = self._read_batch(pids)
        except PatchFileError:
            # A bad file, or a patch of another size than the batch's: reading sample by
            # sample raises the error ds[i] raises, or returns what ds[i] returns.
            return [self[i] for i in indices]
        return [self._finish(BatchedSample(), pid, images[k], masks[k], igbps[k]) for k, pid in enumerate(pids)]

    def _read_batch(self, pids: list[PatchId]) -> tuple[Tensor, Tensor, list[np.ndarray]]:
        """Images (float32 [N, C, H, W]) and masks (int64 [N, H, W]) of the triplets, and their IGBP layers."""
        plan = self._plan
        if self._patch_shape is None:  # learnt once; a patch of another size raises PatchFileError
            self._patch_shape = read_file(os.path.join(self.root, pids[0].relpath("lc")), "lc", ["IGBP"]).shape[1:]
        shape = (len(pids), *self._patch_shape)
        images = self._batch_tensor(self._pools.image, (shape[0], len(self.bands), *shape[1:]), torch.float32)
        masks = self._batch_tensor(self._pools.mask, shape, torch.int64)
        image_arrays, mask_arrays = images.numpy(), masks.numpy()
        lcs = None if plan.mask_is_band else self._pools.lc.get((shape[0], len(plan.lc_bands), *shape[1:]), np.int64)
        igbps = list(mask_arrays)  # the mask is the IGBP layer when IGBP is the one lc band read

        def read(k: int) -> None:
            path = os.path.join(self.root, pids[k].relpath("lc"))
            if lcs is None:
                read_file(path, "lc", plan.lc_bands, out=mask_arrays[k : k + 1])
            else:
                read_file(path, "lc", plan.lc_bands, out=lcs[k])
                mask_arrays[k] = plan.mask_of(lcs[k])
                igbps[k] = lcs[k][-1]
            self._read_image(pids[k], image_arrays[k], 1)

        order = sorted(range(len(pids)), key=lambda k: pids[k].filename("s2"))  # neighbours on disk together
        threads.run([functools.partial(read, k) for k in order], threads.reading_threads())
        return images, masks, igbps

    @staticmethod
    def _batch_tensor(pool: ArrayPool, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """A tensor to read a batch into: in a DataLoader worker a new one in shared memory,
        where ``default_collate`` would put the batch (the main process maps it); in any other
        process one made from the pool's arrays."""
        if torch.utils.data.get_worker_info() is not None:
            storage = torch.UntypedStorage._new_shared(math.prod(shape) * dtype.itemsize)
            return torch.empty(0, dtype=dtype).set_(storage, 0, shape)
        return torch.from_numpy(pool.get(shape, _NUMPY_DTYPES[dtype]))

    def _read_image(self, pid: PatchId, image: np.ndarray, count: int) -> None:
        """Read the image bands of one triplet into ``image`` (float32 [C, H, W]), each file
        in ``count`` blocks of rows read by as many threads."""
        plan = self._plan
        height = image.shape[1]
        tasks = []
        for sensor, bands in plan.reads.items():
            path = os.path.join(self.root, pid.relpath(sensor))
            target = plan.targets[sensor]
            if not isinstance(target, slice):  # read whole, then put in place
                tasks.append(functools.partial(self._read_scattered, path, sensor, bands, image, target))
                continue
            for first, stop in threads.row_blocks(height, count):
                rows = None if (first, stop) == (0, height) else (first, stop)
                # Read and converted in one pass, straight into the image.
                tasks.append(functools.partial(read_file, path, sensor, bands, out=image[target, first:stop], rows=rows))
        threads.run(tasks, count)

    @staticmethod
    def _read_scattered(path: str, sensor: str, bands: list[str], image: np.ndarray, target: list[int]) -> None:
        image[target] = read_file(path, sensor, bands, out=np.empty((len(bands), *image.shape[1:]), np.float32))

    def _finish(self, sample: Sample, pid: PatchId, image: Tensor, mask: Tensor, igbp: np.ndarray) -> Sample:
        """Fill ``sample`` (empty) from one triplet's image (float32), mask (int64) and IGBP
        layer (the last lc band read: IGBP whenever scene labels are asked for), and transform it."""
        plan = self._plan
        if self.s1_nan is not None and "s1" in plan.targets:
            pixels = image.numpy()
            s1 = pixels[plan.targets["s1"]]
            np.copyto(s1, np.float32(self.s1_nan), where=np.isnan(s1))
            pixels[plan.targets["s1"]] = s1
        sample.update(image=image, mask=mask)
        if self.scene_label is not None:
            sample["label"] = self._scene_label(igbp)
        if self.metadata:
            sample.update(self._metadata(pid))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _scene_label(self, lc: np.ndarray) -> Tensor:
        single, multi = labels.scene_labels(lc, self.multi_label_threshold)
        if self.scene_label == "single":
            return torch.tensor(single, dtype=torch.int64)
        hot = torch.zeros(len(labels.DFC_CLASSES) + 1, dtype=torch.int64)
        hot[list(multi)] = 1
        return hot

    def _metadata(self, pid: PatchId) -> Sample:
        geo = georeference(self.root, pid)
        return {
            "patch_id": pid.name,
            "season": facts.SEASON_SHORT[pid.season],
            "scene": pid.scene,
            "crs": geo.crs,
            "bounds": torch.tensor(geo.bounds, dtype=torch.float64),
        }


class _ReadPlan:
    """Which bands to read from which file, and where they go in ``image`` and ``mask``."""

    def __init__(self, bands: Sequence[str], label: str, scene_label: str | None):
        sensor_of = {b: s for s in facts.IMAGE_SENSORS for b in facts.BANDS[s]}
        #: Bands to read per image sensor, in ``image`` order; a sensor none comes from is not read.
        self.reads: dict[str, list[str]] = {}
        positions: dict[str, list[int]] = {}
        for i, band in enumerate(bands):
            self.reads.setdefault(sensor_of[band], []).append(band)
            positions.setdefault(sensor_of[band], []).append(i)
        #: Where each sensor's bands go in ``image``: a slice when they are consecutive.
        self.targets: dict[str, slice | list[int]] = {s: _as_slice(p) for s, p in positions.items()}
        self.label = label
        layer = facts.BANDS["lc"][labels.SCHEMES[label][0]]
        #: The lc bands read: the label's layer, then IGBP when scene labels need it too.
        self.lc_bands = [layer] if layer == "IGBP" or scene_label is None else [layer, "IGBP"]
        #: Whether the mask is the lc band read alone, as stored (not mapped to DFC).
        self.mask_is_band = len(self.lc_bands) == 1 and label != "DFC"

    def mask_of(self, lc: np.ndarray) -> np.ndarray:
        """The mask (int64 [H, W]) of the lc bands read ([len(lc_bands), H, W])."""
        if self.label == "DFC":
            return labels.igbp_to_dfc(lc[0]).astype(np.int64)
        return lc[0]


@dataclass
class _Pools:
    """The arrays batches are read into: images, masks, and lc bands when the mask is made from them."""

    image: ArrayPool = field(default_factory=ArrayPool)
    mask: ArrayPool = field(default_factory=ArrayPool)
    lc: ArrayPool = field(default_factory=ArrayPool)


def _as_slice(positions: list[int]) -> slice | list[int]:
    """A run of consecutive positions as a slice (assignment without a gather)."""
    start = positions[0]
    if positions == list(range(start, start + len(positions))):
        return slice(start, start + len(positions))
    return positions


def _has_season_folder(root: str | os.PathLike[str]) -> bool:
    return any(os.path.isdir(os.path.join(root, season)) for season in facts.SEASONS)
