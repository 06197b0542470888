"""torchgeo's ``SEN12MSDataModule`` on the project's named splits.

Registering the plugin (:mod:`sen12ms_plugins.torchgeo.registry`) installs the
methods below on torchgeo's own ``SEN12MSDataModule`` class, so that the datamodule
people already use (and configure in LightningCLI by its name) trains on
``train_minus_validation``, validates on ``validation`` (whole scenes, about 10% of
``train`` in every season, the same in every ecosystem) and tests on ``holdout``.
Upstream instead draws a random 80/20 scene split of ``train`` for validation.

On a root with fewer than two non-hold-out scenes ``validation`` is empty: ``fit`` then
trains on ``train_minus_validation`` without validation (one ``EmptySplitWarning``, on
rank 0, says so and why; ``val_dataloader`` gives no loader, so Lightning skips the
validation loop), while ``validate`` asks for the split by name and fails with the
``EmptySplitError`` saying why.  Without validation there is no ``val_loss``, on which
torchgeo's tasks step their ``ReduceLROnPlateau``: such a fit makes the trainer's
learning-rate schedulers that monitor a metric non-strict (Lightning's ``strict=False``),
so they skip a step, with Lightning's warning, instead of stopping the fit.

``test_split`` (a keyword the installed ``__init__`` adds) chooses what ``test`` runs on:
``holdout`` (the default; ``test`` is the same), or a DFC2020 split (``dfc2020_validation``,
``dfc2020_test``: the 2020 Data Fusion Contest's patches with hand-made 10 m labels, added by
``sen12ms add-dfc2020``).  Their masks are in the simplified classes already, so with a
DFC2020 test split every dataset of the datamodule gives simplified masks (``label="DFC"``,
the very lookup upstream applies on the device, applied when reading) and nothing is mapped
after transfer; the LCCS layers, in other classes, cannot be tested on DFC2020 (ValueError).

Its loaders move batches as the files store them (``stored_batches``, a keyword the installed
``__init__`` adds, True by default): a :class:`~.loader.SEN12MSLoader` of the dataset's stored
twin, read by ``num_workers`` threads of the training process straight into pinned memory for
an accelerator (reused arrays otherwise), with torchgeo's sampler, batch size and ``drop_last``;
``on_after_batch_transfer`` makes torchgeo's batch of them on the device the batch is on
(:func:`~.conversion.torchgeo_batch`), upstream's IGBP mapping looked up there, before
torchgeo's augmentations.  ``stored_batches=False``, per-sample ``transforms``, a dataset
subclass with samples of its own, another ``collate_fn`` or a device other than the CPU and
CUDA take torchgeo's DataLoaders and float32 batches.

The class itself is not replaced: LightningCLI resolves ``class_path:
SEN12MSDataModule`` by class name and refuses a name that two classes share.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import BatchSampler, DataLoader, default_collate
from torchgeo.datamodules.geo import NonGeoDataModule
from torchgeo.datamodules.sen12ms import SEN12MSDataModule

from ..dataset.splits import DFC2020_SPLITS, TRAIN_PARTS, canonical_split
from ..errors import EmptySplitWarning, SmallSplitWarning
from .conversion import torchgeo_batch
from .dataset import SEN12MS, UpstreamSEN12MS
from .loader import SEN12MSLoader
from .originals import original
from .stored import StoredSpec, stored_twin

Sample = dict[str, Any]
#: torchgeo's defaults of the datamodule's own arguments (read before registration installs ours).
_DEFAULTS = {name: p.default for name, p in inspect.signature(SEN12MSDataModule.__dict__["__init__"]).parameters.items()}
#: The splits ``test`` may run on.
TEST_SPLITS = ("holdout", *DFC2020_SPLITS)
#: Devices batches as stored go to: the CPU and CUDA, which move and convert uint16 tensors
#: (torch's support of uint16 elsewhere, MPS among them, is partial: those take torchgeo's path).
STORED_DEVICES = ("cpu", "cuda")
#: Dataset labels whose masks are simplified classes once mapped: what DFC2020 can test.
_DFC2020_TESTABLE = (None, "IGBP", "DFC")


def __init__(
    self,
    batch_size: int = _DEFAULTS["batch_size"],
    num_workers: int = _DEFAULTS["num_workers"],
    band_set: str = _DEFAULTS["band_set"],
    test_split: str = "holdout",
    stored_batches: bool = True,
    **kwargs: Any,
) -> None:
    """Initialize a new SEN12MSDataModule instance.

    Args:
        batch_size: Size of each mini-batch.
        num_workers: Number of workers for parallel data loading.
        band_set: a name of :attr:`SEN12MS.BAND_SETS <sen12ms_plugins.torchgeo.SEN12MS.BAND_SETS>`:
            "all", "s1", "s2-all", "s2-reduced" (torchgeo's: B02 B03 B04 B08 B10 B11),
            "s2-reduced-swir" (B02 B03 B04 B08 B11 B12) or "s2-land" (the authors' 10 bands,
            B02-B08, B8A, B11, B12); each band is normalised as torchgeo normalises it
            (dB / -25, Sentinel-2 / 10,000).
        test_split: what ``test`` runs on: "holdout" (or "test"), "dfc2020_validation" or
            "dfc2020_test" (the root must hold DFC2020: ``sen12ms add-dfc2020``).
        stored_batches: move batches as the files store them, made into torchgeo's batch by
            ``on_after_batch_transfer`` on the device (``num_workers`` reading threads in this
            process); False: torchgeo's DataLoaders and float32 batches (see the module).
        **kwargs: Additional keyword arguments passed to
            :class:`~sen12ms_plugins.torchgeo.SEN12MS`.

    Raises:
        ValueError: if ``band_set`` is unknown, ``test_split`` is not a split to test on, or a
            DFC2020 test split is asked for with a label (an LCCS layer) whose classes are not
            DFC2020's.
    """
    _use_band_set(self, band_set)
    try:
        name = canonical_split(test_split)
    except ValueError as exc:
        raise ValueError(f"test_split: {exc}") from None
    if name not in TEST_SPLITS:
        raise ValueError(f"test_split {test_split!r} is not one to test on; expected one of {', '.join(TEST_SPLITS)}")
    if name in DFC2020_SPLITS and kwargs.get("label") not in _DFC2020_TESTABLE:
        raise ValueError(f"test_split {name!r} has masks in the simplified classes, which label="
                         f"{kwargs['label']!r} is not in: train with label IGBP (the default) or DFC to test on DFC2020")
    original(SEN12MSDataModule, "__init__")(self, batch_size, num_workers, band_set, **kwargs)
    #: The split ``test`` runs on (canonical name).
    self.test_split = name
    #: Whether the loaders move batches as stored (see the module).
    self.stored_batches = stored_batches


def _use_band_set(self, band_set: str) -> None:
    """Check ``band_set`` and give the datamodule the divisors of its bands: torchgeo's ``std``
    picked band by band, which for torchgeo's own sets is what its ``__init__`` slices, and
    for the plugin's sets what it would be (its ``__init__`` leaves ``std`` alone for a name it
    does not know, and builds its ``Normalize`` from ``self.std``)."""
    if band_set not in SEN12MS.BAND_SETS:
        raise ValueError(f"unknown band_set {band_set!r}; expected one of {', '.join(SEN12MS.BAND_SETS)}")
    if band_set not in UpstreamSEN12MS.BAND_SETS:
        picked = [SEN12MS.band_names.index(band) for band in SEN12MS.BAND_SETS[band_set]]
        self.std = SEN12MSDataModule.std[torch.tensor(picked)]


def _dataset_kwargs(self) -> dict[str, Any]:
    """The datasets' arguments: with a DFC2020 test split, masks in the simplified classes."""
    kwargs = dict(self.kwargs)
    if getattr(self, "test_split", "holdout") in DFC2020_SPLITS:
        kwargs["label"] = "DFC"
    return kwargs


def setup(self, stage: str) -> None:
    """Set up datasets from the project's splits.

    Args:
        stage: Either 'fit', 'validate', 'test', or 'predict'.
    """
    kwargs = _dataset_kwargs(self)
    if stage in ("fit", "validate"):
        self.train_dataset = SEN12MS(split="train_minus_validation", **kwargs)
        self.val_dataset = None
        kept: tuple[str, ...] = ("validation",)
        if stage == "fit":
            with warnings.catch_warnings():
                if rank_zero_only.rank != 0:  # said once, by the first process of a distributed run
                    warnings.simplefilter("ignore", EmptySplitWarning)
                kept = self.train_dataset.splits.with_members(TRAIN_PARTS, doing=(
                    "SEN12MSDataModule fit trains on {splits} without validation (learning-rate "
                    "schedulers that monitor a metric skip their step while it is missing)"
                ))
        if "validation" in kept:
            self.val_dataset = SEN12MS(split="validation", **kwargs)
        #: True after a ``fit`` setup on a root whose ``validation`` is empty.
        self.fit_without_validation = "validation" not in kept
        if stage == "fit":
            _warn_if_smaller_than_a_batch(self)
    if stage == "test":
        self.test_dataset = SEN12MS(split=getattr(self, "test_split", "holdout"), **kwargs)


def _warn_if_smaller_than_a_batch(self) -> None:
    """One :class:`~sen12ms_plugins.errors.SmallSplitWarning` (from the first process) when the
    training split gives no batch: torchgeo's training loader drops the last incomplete batch,
    and in a distributed run each process gets its share of the split."""
    batch_size = self.train_batch_size or self.batch_size
    ranks = self.trainer.world_size if self.trainer is not None else 1
    n = len(self.train_dataset)
    per_process = math.ceil(n / ranks)  # torch's DistributedSampler pads each share to this
    if per_process < batch_size and rank_zero_only.rank == 0:
        share = f" ({per_process} per process of {ranks})" if ranks > 1 else ""
        warnings.warn(
            f"SEN12MSDataModule: split {self.train_dataset.split!r} of {self.train_dataset.root} holds {n} triplets"
            f"{share}, fewer than one batch of {batch_size}; torchgeo drops the last incomplete training batch "
            f"(drop_last), so fit trains on nothing: pass batch_size={max(1, per_process)} or less",
            SmallSplitWarning, stacklevel=2)


def val_dataloader(self) -> Any:
    """torchgeo's validation loader; none (an empty list, which Lightning skips) after a
    ``fit`` setup that found ``validation`` empty."""
    if getattr(self, "fit_without_validation", False):
        if self.trainer is not None:
            # Called once the optimizers are configured, before the first scheduler step.
            for config in self.trainer.lr_scheduler_configs:
                if config.monitor is not None:
                    config.strict = False
        return []
    # torchgeo's method on torchgeo's class (not type(self): a user's subclass inherits ours)
    return original(SEN12MSDataModule, "val_dataloader")(self)


def _dataloader_factory(self, split: str) -> DataLoader:
    """torchgeo's loader of ``split``; with ``stored_batches``, the same as a :class:`SEN12MSLoader`
    of batches as stored (same sampler, batch size, ``drop_last``, collation), when the
    dataset is the plugin's own, without per-sample ``transforms``, collated by ``default_collate``,
    for a trainer on one of :data:`STORED_DEVICES` (or none)."""
    loader = original(SEN12MSDataModule, "_dataloader_factory")(self, split)
    dataset = loader.dataset
    device = self.trainer.strategy.root_device if self.trainer is not None else None
    if not (getattr(self, "stored_batches", True) and isinstance(dataset, SEN12MS) and dataset.transforms is None
            and _reads_as_plugin(dataset) and loader.collate_fn is default_collate
            and (device is None or device.type in STORED_DEVICES)):
        return loader
    batches = ({"batch_size": loader.batch_size, "sampler": loader.sampler, "drop_last": loader.drop_last}
               if type(loader.batch_sampler) is BatchSampler else {"batch_sampler": loader.batch_sampler})
    return SEN12MSLoader(
        dataset if dataset.stored else stored_twin(dataset),
        **batches,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        persistent_workers=loader.persistent_workers,
        pin_memory=_pins_for(device),
        generator=loader.generator,
        prefetch_factor=loader.prefetch_factor,
    )


def _pins_for(device: torch.device | None) -> bool:
    """Whether batches for ``device`` are read into pinned memory, from which they reach it
    without blocking: for torch's current accelerator."""
    accelerator = torch.accelerator.current_accelerator() if device is not None else None
    return accelerator is not None and accelerator.type == device.type


def _reads_as_plugin(dataset: SEN12MS) -> bool:
    """True when a dataset's samples are the plugin's (a subclass may make its own)."""
    cls = type(dataset)
    return cls.__getitem__ is SEN12MS.__getitem__ and cls.__getitems__ is SEN12MS.__getitems__


def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
    """torchgeo's batch on the device the batch is on, before torchgeo's own steps: a batch as
    stored made into it (:func:`~.conversion.torchgeo_batch`); IGBP masks mapped to the
    simplified scheme as upstream maps them (``DFC2020_CLASS_MAPPING``, looked up on the
    batch's device), a mask left alone that the dataset already returns in another layer
    (``label=...``, or the simplified classes of a datamodule testing on DFC2020); then the
    datamodule's augmentations (``aug``: normalisation), as upstream."""
    mapping = self.DFC2020_CLASS_MAPPING if _dataset_kwargs(self).get("label") in (None, "IGBP") else None
    if isinstance(batch, dict) and isinstance(batch.get("stored"), StoredSpec):
        batch = torchgeo_batch(batch, mask_mapping=mapping)
    elif mapping is not None:
        batch["mask"] = torch.take(mapping.to(batch["mask"].device), batch["mask"])
    return NonGeoDataModule.on_after_batch_transfer(self, batch, dataloader_idx)


def plot(self, *args: Any, **kwargs: Any) -> Any:
    """torchgeo's plot of a sample (its tasks plot one of each validation batch, after transfer):
    with the masks mapped to the simplified classes there, it is drawn in those classes."""
    if _dataset_kwargs(self).get("label") in (None, "IGBP"):
        kwargs.setdefault("scheme", "DFC")
    return original(SEN12MSDataModule, "plot")(self, *args, **kwargs)


#: The methods registration installs on torchgeo's ``SEN12MSDataModule``.
METHODS = {"__init__": __init__, "setup": setup, "val_dataloader": val_dataloader,
           "_dataloader_factory": _dataloader_factory, "on_after_batch_transfer": on_after_batch_transfer,
           "plot": plot}
