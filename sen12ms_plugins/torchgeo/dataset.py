"""SEN12MS as a torchgeo dataset: upstream's class, with the project's splits and core."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torchgeo.datasets.sen12ms as _upstream_module
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError, RGBBandsMissingError

from ..acquisition import verify
from ..acquisition.download import require_ready
from ..dataset import facts, labels
from ..dataset.ids import PatchId, read_patch_list
from ..dataset.index import Index, build_index
from ..dataset.splits import (
    ALIASES,
    DFC2020_SPLITS,
    SPLITS,
    UPSTREAM_LISTS,
    Splits,
    canonical_split,
    compute_splits,
)
from ..errors import PatchFileError, RootError, SEN12MSError
from ..reading.examples import SEASON_NAMES, season_class
from ..reading.fastread import Convert
from ..reading.reader import announced, georeference, mark_announced, probe_layouts, read_file
from . import threads
from .collate import BatchedSample
from .figure import plot_sample
from .memory import batch_tensor, new_array
from .plan import Pools, ReadPlan, resolve_label
from .stored import stored_sample, stored_samples

Sample = dict[str, Any]


def _original_class() -> type:
    """torchgeo's own SEN12MS class, also when this plugin has already replaced the name."""
    current = _upstream_module.SEN12MS
    return next(c for c in current.__mro__ if c.__module__ == _upstream_module.__name__)


UpstreamSEN12MS: type = _original_class()
# The installed torchgeo's defaults (``checksum`` became True in 0.10): ours are the same.
_DEFAULTS = {name: p.default for name, p in inspect.signature(UpstreamSEN12MS.__init__).parameters.items()}

#: Split names the torchgeo class accepts on every root: the core's, plus torchgeo's ``test``
#: (and, on a root that holds DFC2020, the :data:`~sen12ms_plugins.dataset.splits.DFC2020_SPLITS`).
SPLIT_NAMES = (*SPLITS, *ALIASES)
#: The splits torchgeo's own class accepts (it asserts ``split in ['train', 'test']``).
UPSTREAM_SPLITS = ("train", "test")
SCENE_LABELS = ("single", "multi")


class UnknownSplitError(SEN12MSError, ValueError, AssertionError):
    """An unknown split name.  It is an AssertionError because upstream asserts the split."""


class SEN12MSNotFoundError(DatasetNotFoundError, RootError):
    """Raised by the constructor when ``root`` cannot be read as SEN12MS: torchgeo's
    ``DatasetNotFoundError`` (the type torchgeo's tests and users catch, with its first words,
    ``Dataset not found``), and the core's :class:`~sen12ms_plugins.errors.RootError`, whose
    reason it carries in one line: what is missing, where, and the command that fixes it."""

    def __init__(self, reason: str) -> None:
        # torchgeo's __init__ takes the dataset and words a generic message: ours is the reason.
        self.reason = reason
        FileNotFoundError.__init__(self, f"Dataset not found: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the reason, so the error survives a trip between processes (DataLoader workers).
        return type(self), (self.reason,)


#: How to go on after the core's download command, as the not-found message says it.
OPT_IN = "then create the dataset again"


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
        if isinstance(split, str) and split in (*SPLIT_NAMES, *DFC2020_SPLITS) and split not in UPSTREAM_SPLITS:
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
    * ``train_minus_validation``: ``train`` without ``validation``;
    * ``dfc2020_validation``, ``dfc2020_test``: the 2020 Data Fusion Contest's validation
      and test patches (same sensors and processing, hand-made 10 m labels), when ``root``
      holds them (``sen12ms add-dfc2020``; otherwise an ``EmptySplitError`` saying so).
      ``image`` is as for SEN12MS, ``mask`` the 10 m label in the simplified classes (1-10).

    When upstream's ``train_list.txt`` or ``test_list.txt`` is in ``root`` it defines
    ``train`` or ``test``/``holdout`` exactly as in torchgeo; otherwise the members
    come from an index of the files present (cached in the user's cache, never in the root), ordered
    as upstream's lists order them (by S2 file name).

    ``checksum=True`` runs the core's check (:func:`sen12ms_plugins.acquisition.verify.check_root`):
    the archives in ``root`` are md5-verified once and remembered while unchanged
    (size, modification time, inode), and the extracted tree is checked for missing
    files; the patch lists present are md5-checked, as upstream does.

    Beyond upstream, keyword-only:

    * ``label``: the ``mask`` layer: ``"IGBP"`` (1-17), ``"DFC"`` (the simplified
      10-class scheme of the 2020 Data Fusion Contest, 1-10) or an LCCS layer
      (``"LCCS_LC"``, ``"LCCS_LU"``, ``"LCCS_SH"``; 255 = unclassified).  None (the default)
      is ``"IGBP"`` for the SEN12MS splits, as upstream, and the 10 m label for the DFC2020
      splits, which accept ``"DFC"`` (the same) and nothing else: their MODIS layers are not
      what they are labelled with, so ``"IGBP"`` or an LCCS layer there is a ValueError;
    * ``scene_label``: adds ``label`` for scene classification (Schmitt & Wu 2021),
      in the simplified classes: ``"single"`` gives the most frequent class (int64,
      1-10; 0 if no pixel is labelled), ``"multi"`` an int64 multi-hot vector of 11
      entries whose entry *k* is class *k* (entry 0, no data, is never set), set for
      every class covering at least ``multi_label_threshold`` of the patch (of a DFC2020
      patch: of its 10 m label);
    * ``metadata``: adds ``patch_id`` (e.g. ``ROIs1158_spring_124_p100``),
      ``season`` (int64, the season's class as in TFDS and Hugging Face:
      :attr:`season_names` ``[k]``, spring, summer, fall, winter), ``scene`` (int), ``crs`` (e.g. ``EPSG:32650``) and
      ``bounds`` (float64 ``[left, bottom, right, top]`` in that CRS); a DFC2020 patch has
      season -1 (unknown), scene 0 and, when its georeference is stripped, crs ``""`` and
      NaN bounds;
    * ``s1_nan``: Sentinel-1 backscatter holds NaN where the SAR data is missing
      (notably the damaged patch ROIs1868_summer scene 146 patch 202, which no split
      contains but a patch list may).  None keeps NaN, as upstream; a number
      replaces NaN in the S1 bands with it.
    * ``stored``: samples as the files store them, for loading at the speed of the raw
      read: one tensor per file (``s1`` float32, ``s2`` uint16, ``lc`` in the file's dtype or
      ``dfc``), no float32 conversion, no de-interleaving, and ``stored``, what torchgeo's
      sample is made of; :func:`~sen12ms_plugins.torchgeo.torchgeo_batch` makes torchgeo's
      batch of a batch of them on the CPU or a CUDA device (:mod:`~sen12ms_plugins.torchgeo.stored`).
      ``transforms`` then has no sample to run on: giving both is a ValueError.

    Files are read with the project's reader: one open per file, uncompressed
    GeoTIFFs parsed directly (bit-identical to rasterio), only the sensors and
    bands needed.
    """

    #: Label layers ``label`` accepts.
    LABELS: ClassVar[tuple[str, ...]] = tuple(labels.SCHEMES)
    #: Named band sets: torchgeo's four as torchgeo has them, ``s2-reduced-swir`` and ``s2-land``
    #: (:data:`~sen12ms_plugins.dataset.facts.BAND_SETS` says what each holds and why).
    BAND_SETS: ClassVar[dict[str, tuple[str, ...]]] = dict(facts.BAND_SETS)
    #: The season of class ``k`` of the ``season`` metadata (-1: unknown, DFC2020), as in TFDS and Hugging Face.
    season_names: ClassVar[tuple[str, ...]] = SEASON_NAMES

    def __init__(
        self,
        root: str | os.PathLike[str] = _DEFAULTS["root"],
        split: str = _DEFAULTS["split"],
        bands: Sequence[str] = _DEFAULTS["bands"],
        transforms: Callable[[Sample], Sample] | None = _DEFAULTS["transforms"],
        checksum: bool = _DEFAULTS["checksum"],
        *,
        label: str | None = None,
        scene_label: str | None = None,
        multi_label_threshold: float = labels.MULTI_LABEL_THRESHOLD,
        metadata: bool = False,
        s1_nan: float | None = None,
        stored: bool = False,
    ) -> None:
        """Initialize a new SEN12MS dataset instance.

        Args:
            root: folder holding the season folders (and, optionally, the archives
                and upstream's patch lists)
            split: ``train``, ``holdout`` (or ``test``), ``validation``,
                ``train_minus_validation``, ``dfc2020_validation`` or ``dfc2020_test``
            bands: band names from :attr:`band_names`, in the order wanted (a named set:
                ``SEN12MS.BAND_SETS["s2-land"]``)
            transforms: a function/transform that takes a sample and returns it transformed
            checksum: verify the archives (remembered) or the tree, and the patch lists
            label: ``mask`` layer, one of :attr:`LABELS`; None: IGBP, or the 10 m label of a
                DFC2020 split
            scene_label: None, ``"single"`` or ``"multi"``
            multi_label_threshold: least share of a class in a multi-label (0-1]
            metadata: add patch id, season, scene, CRS and bounds to each sample
            s1_nan: value replacing NaN in Sentinel-1 bands (None keeps NaN)
            stored: give samples as the files store them (see above)

        Raises:
            AssertionError: if ``split`` is unknown (an :class:`UnknownSplitError`)
            ValueError: if a band, label layer or option is invalid
            DatasetNotFoundError: if the dataset is not in ``root`` or does not verify (a
                :class:`SEN12MSNotFoundError`, whose one line says what is missing, where, and the
                command that downloads it)
            EmptySplitError: if ``root`` holds SEN12MS but no patch of ``split`` (a DFC2020
                split it does not hold: a ``DFC2020NotAddedError`` saying how to add it)
        """
        try:
            name = canonical_split(split)
        except ValueError as exc:
            raise UnknownSplitError(str(exc)) from None
        self._validate_bands(bands)
        label = resolve_label(name, label)
        if scene_label is not None and scene_label not in SCENE_LABELS:
            raise ValueError(f"unknown scene_label {scene_label!r}; expected None or one of {', '.join(SCENE_LABELS)}")
        if not 0 < multi_label_threshold <= 1:
            raise ValueError(f"multi_label_threshold must be in (0, 1], got {multi_label_threshold}")
        if s1_nan is not None and not np.isfinite(s1_nan):
            raise ValueError(f"s1_nan must be a finite number or None, got {s1_nan}")
        if stored and transforms is not None:
            raise ValueError("transforms take torchgeo samples, which stored=True does not give: apply them to "
                             "the batches torchgeo_batch makes, or leave stored=False")

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
        #: Whether samples are as the files store them (:mod:`.stored`).
        self.stored = stored
        self._plan = ReadPlan(bands, label, scene_label)
        self._splits: Splits | None = None
        self._pools, self._sample_pools = Pools(), Pools()  # batches' arrays, single samples'
        self._patch_shape: tuple[int, int] | None = None

        index = self._require_root()
        #: The split's triplets, in sample order.
        self.patch_ids: tuple[PatchId, ...] = self._members(name, index)
        #: Upstream's form of the same: S2 file names.
        self.ids: list[str] = [pid.filename("s2") for pid in self.patch_ids]
        if self.patch_ids:
            # A layout the fast reader leaves to rasterio is announced now, in the main process,
            # rather than by every DataLoader worker (see __getstate__).
            first = self.patch_ids[0]
            probe_layouts(self.root, first, [self._plan.label_file(first)[0], *self._plan.reads])

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a DataLoader worker started by spawn or forkserver: it takes along what
        this process announced, so that the worker does not announce it again (fork inherits it)."""
        state = {**self.__dict__, "_announced_layouts": announced()}
        del state["_pools"], state["_sample_pools"]  # this process's arrays: a worker reads into its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        mark_announced(state.pop("_announced_layouts", ()))
        self.__dict__.update(state)
        self._pools, self._sample_pools = Pools(), Pools()

    def _require_root(self) -> Index:
        """The index of ``root``; :class:`SEN12MSNotFoundError` with the core's reason unless it
        holds SEN12MS that an adapter can read (:func:`~sen12ms_plugins.acquisition.download.require_ready`)
        and, with ``checksum``, verifies (every problem is also attached as a note, one a line)."""
        try:
            index = require_ready(self.root, opt_in=OPT_IN)
        except RootError as exc:
            raise SEN12MSNotFoundError(str(exc)) from None
        if self.checksum:
            problems = self._verification_problems()
            if problems:
                more = f" (and {len(problems) - 1} more problem(s), in the notes below)" if len(problems) > 1 else ""
                error = SEN12MSNotFoundError(f"{self.root} does not verify: {problems[0]}{more}")
                error.add_note("verification failed:\n" + "\n".join(f"  {p}" for p in problems))
                raise error
        return index

    def _members(self, name: str, index: Index) -> tuple[PatchId, ...]:
        list_file = UPSTREAM_LISTS.get(name)
        if list_file is not None and os.path.isfile(os.path.join(self.root, list_file)):
            return tuple(read_patch_list(os.path.join(self.root, list_file)))
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
        """Return the sample at ``index`` (IndexError beyond the end, as a list).

        Read into arrays reused from sample to sample once nothing made from them is
        alive (fresh arrays of megabytes cost a page fault every 4 KiB), so a sample that
        someone keeps is never overwritten.
        """
        if self.stored:
            return stored_sample(self, index)
        pid = self.patch_ids[index]
        try:
            images, masks, layers = self._read_batch([pid], self._sample_pools)
        except PatchFileError:
            shape = self._label_shape(pid)  # raises the label file's own error
            if shape == self._patch_shape:
                raise
            images, masks, layers = self._read_batch([pid], None, shape)  # a patch of another size
        return self._finish({}, pid, images[0], masks[0], layers[0])

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
        if self.stored:
            return stored_samples(self, indices)
        pids = [self.patch_ids[i] for i in indices]
        if not pids:
            return []
        try:
            images, masks, layers = self._read_batch(pids, self._pools)
        except PatchFileError:
            # A bad file, or a patch of another size than the batch's: reading sample by
            # sample raises the error ds[i] raises, or returns what ds[i] returns.
            return [self[i] for i in indices]
        return [self._finish(BatchedSample(), pid, images[k], masks[k], layers[k]) for k, pid in enumerate(pids)]

    def _label_shape(self, pid: PatchId) -> tuple[int, int]:
        """(height, width) of a patch, from its label file."""
        sensor, _ = self._plan.label_file(pid)
        path = os.path.join(self.root, pid.relpath(sensor))
        return read_file(path, sensor, formats=facts.formats_of(pid.season))[:1].shape[1:]

    def _read_batch(self, pids: list[PatchId], pools: Pools | None,
                    shape: tuple[int, int] | None = None) -> tuple[Tensor, Tensor, list[np.ndarray]]:
        """Images (float32 [N, C, H, W]) and masks (int64 [N, H, W]) of the patches, and the
        bands read from their label files (int64 [bands, H, W]); read into ``pools``' arrays
        (None: fresh ones), of the dataset's patch size unless ``shape`` is given."""
        plan = self._plan
        if shape is None:
            if self._patch_shape is None:  # learnt once; a patch of another size raises PatchFileError
                self._patch_shape = self._label_shape(pids[0])
            shape = self._patch_shape
        n = len(pids)
        images = batch_tensor(pools and pools.image, (n, len(self.bands), *shape), torch.float32)
        masks = batch_tensor(pools and pools.mask, (n, *shape), torch.int64)
        image_arrays, mask_arrays = images.numpy(), masks.numpy()
        layers: list[np.ndarray] = [mask_arrays[k : k + 1] for k in range(n)]  # the mask when read straight into it
        bands = max(plan.label_band_count(pid) for pid in pids)
        spare = None if all(map(plan.mask_is_band, pids)) else new_array(pools and pools.layers, (n, bands, *shape), np.int64)

        def read_label(k: int, convert: Convert | None = None) -> None:
            pid = pids[k]
            sensor, names = plan.label_file(pid)
            path = os.path.join(self.root, pid.relpath(sensor))
            if not plan.mask_is_band(pid):
                layers[k] = spare[k, : plan.label_band_count(pid)]
            read_file(path, sensor, names, out=layers[k], formats=facts.formats_of(pid.season), convert=convert)
            if not plan.mask_is_band(pid):
                mask_arrays[k] = plan.mask_of(pid, layers[k])

        if n == 1:  # one sample: its files in turn, de-interleaved by torch on its threads
            read_label(0, _torch_copy)
            self._read_image(pids[0], image_arrays[0], _torch_copy)
        else:  # a batch: triplet by triplet on every thread, neighbours on disk together
            threads.run([functools.partial(_call_both, read_label, self._read_image, k, pids[k], image_arrays[k])
                         for k in sorted(range(n), key=lambda k: pids[k].filename("s2"))], threads.reading_threads())
        return images, masks, layers

    def _read_image(self, pid: PatchId, image: np.ndarray, convert: Convert | None = None) -> None:
        """Read the image bands of one patch into ``image`` (float32 [C, H, W]); ``convert``
        de-interleaves pixel-interleaved files (:func:`~..reading.reader.read_file`)."""
        plan, formats = self._plan, facts.formats_of(pid.season)
        for sensor, bands in plan.reads.items():
            path = os.path.join(self.root, pid.relpath(sensor))
            target = plan.targets[sensor]
            if isinstance(target, slice):  # read and converted in one pass, straight into the image
                read_file(path, sensor, bands, out=image[target], formats=formats, convert=convert)
            else:  # read whole, then put in place
                image[target] = read_file(path, sensor, bands, out=np.empty((len(bands), *image.shape[1:]), np.float32),
                                          formats=formats, convert=convert)

    def _finish(self, sample: Sample, pid: PatchId, image: Tensor, mask: Tensor, layers: np.ndarray) -> Sample:
        """Fill ``sample`` (empty) from one patch's image (float32), mask (int64) and the bands
        read from its label file, and transform it."""
        plan = self._plan
        if self.s1_nan is not None and "s1" in plan.targets:
            pixels = image.numpy()
            s1 = pixels[plan.targets["s1"]]
            np.copyto(s1, np.float32(self.s1_nan), where=np.isnan(s1))
            pixels[plan.targets["s1"]] = s1
        sample.update(image=image, mask=mask)
        if self.scene_label is not None:
            sample["label"] = self._scene_label(plan.scene_layer(pid, layers))
        if self.metadata:
            sample.update(self._metadata(pid))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _scene_label(self, dfc: np.ndarray) -> Tensor:
        single, multi = labels.dfc_scene_labels(dfc, self.multi_label_threshold)
        if self.scene_label == "single":
            return torch.tensor(single, dtype=torch.int64)
        hot = torch.zeros(len(labels.DFC_CLASSES) + 1, dtype=torch.int64)
        hot[list(multi)] = 1
        return hot

    def plot(self, sample: Sample, show_titles: bool = True, suptitle: str | None = None, *,
             scheme: str | None = None) -> Figure:
        """Plot a sample: the image in true colour with a robust stretch, the mask and (when the
        sample has one) the ``prediction`` in the class colours of their scheme, with fixed
        class limits and a legend of the classes shown (:mod:`.figure` says how).

        Args:
            sample: a sample returned by :meth:`__getitem__` (or one of a batch, with ``prediction``)
            show_titles: flag indicating whether to show titles above each panel
            suptitle: optional suptitle to use for figure
            scheme: the classes ``mask`` and ``prediction`` hold, one of :attr:`LABELS`; None: the
                dataset's ``label`` layer (the datamodule passes ``"DFC"`` for masks it mapped)

        Returns:
            a matplotlib Figure with the rendered sample

        Raises:
            RGBBandsMissingError: If *bands* does not include all RGB bands.
            ValueError: If *scheme* is not a label layer.
        """
        missing = [band for band in self.rgb_bands if band not in self.bands]
        if missing:
            raise RGBBandsMissingError()
        scheme = self.label if scheme is None else scheme
        if scheme not in labels.SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(labels.SCHEMES)}")
        rgb = [list(self.bands).index(band) for band in self.rgb_bands]
        return plot_sample(sample, rgb, scheme, rgb_names=self.rgb_bands, show_titles=show_titles, suptitle=suptitle)

    def _metadata(self, pid: PatchId) -> Sample:
        geo = georeference(self.root, pid)
        return {
            "patch_id": pid.name,
            "season": torch.tensor(season_class(pid.season)),
            "scene": pid.scene,
            "crs": geo.crs,
            "bounds": torch.tensor(geo.bounds, dtype=torch.float64),
        }


def _call_both(read_label: Callable[[int], None], read_image: Callable[..., None], k: int,
               pid: PatchId, image: np.ndarray) -> None:
    read_label(k)
    read_image(pid, image)


def _torch_copy(dst: np.ndarray, src: np.ndarray) -> None:
    # torch's copy runs on its intra-op threads, which stay awake between calls: two threads
    # de-interleave a Sentinel-2 patch in ~0.28 ms where numpy's one takes ~0.47 ms (and a
    # helper thread woken per sample saved nothing).  Exact: integer to float32 or int64, or
    # the same dtype.
    torch.from_numpy(dst).copy_(torch.from_numpy(src))
