"""Read one split through each ecosystem and bring every patch back to one canonical form.

The project's promise is that torchgeo, TensorFlow Datasets and Hugging Face
``datasets`` give the same patches as the core.  Each ``from_*`` function below reads a
split the way a user of that ecosystem does, undoes that ecosystem's layout (TFDS is
height-width-channel, torchgeo stacks S1 and S2 as float32 and widens the mask to
int64), and yields :class:`Canonical` patches in the reader's dtypes (``facts.DTYPES``), so that pixels can
be compared byte for byte.  :func:`fingerprint` reduces a split, as it streams by, to a
digest per patch and field, so two ecosystems can be compared without holding either in
memory, and a difference names the patch and the field.

Besides the pixels, every ecosystem gives each patch's ``season`` (a class number, the
index in ``reading.examples.SEASON_NAMES``; -1 unknown) and its scene multi-label as a
multi-hot (torchgeo's ``scene_label="multi"``, the ``labels`` field of TFDS and HF); both
are compared too.

A DFC2020 split (``dfc2020_validation``, ``dfc2020_test``) is read the same way; its patches
also carry ``dfc``, the contest's 10 m label, which is torchgeo's ``mask`` for those splits
(the ``igbp`` layer torchgeo then does not return) and the ``dfc`` field of TFDS and HF.

The frameworks are imported inside the functions, only when used: each is an optional
extra, and TensorFlow must not be loaded before Triton (:mod:`sen12ms_plugins._import_order`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset import facts
from ..dataset.ids import PatchId, parse_patch_id
from ..reading.examples import label_fields, season_class
from ..reading.reader import read_triplet

ECOSYSTEMS = ("core", "torchgeo", "tfds", "hf")


@dataclass(frozen=True)
class Canonical:
    """One patch as every ecosystem must give it back."""

    id: str
    s1: np.ndarray  # float32 [2, H, W], dB, NaN kept
    s2: np.ndarray  # uint16 [13, H, W]
    igbp: np.ndarray | None  # uint16 [H, W]; torchgeo's mask of a DFC2020 split is dfc instead
    lc: np.ndarray | None = None  # uint16 [4, H, W]; torchgeo returns only the IGBP layer
    dfc: np.ndarray | None = None  # uint8 [H, W]: a DFC2020 patch's 10 m label (None for SEN12MS patches)
    season: np.ndarray | None = None  # int64 []: the season class (-1 unknown)
    labels: np.ndarray | None = None  # bool [11]: the scene multi-label, multi-hot


FIELDS = ("s1", "s2", "igbp", "lc", "dfc", "season", "labels")


def mask_field(patch_id: str) -> str:
    """The mask every ecosystem returns for a patch: ``dfc`` for a DFC2020 patch, else ``igbp``."""
    return "dfc" if parse_patch_id(patch_id).is_dfc2020 else "igbp"


@dataclass(frozen=True)
class Fingerprint:
    """A split as one ecosystem returned it: per patch, a digest of each field's bytes."""

    #: id -> field -> SHA-256 of the array's dtype, shape and bytes (``lc`` absent for torchgeo)
    digests: Mapping[str, Mapping[str, bytes]]

    @property
    def count(self) -> int:
        return len(self.digests)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.digests))

    @property
    def sha256(self) -> str:
        """One digest over the ids and the S1, S2 and mask pixels (:func:`mask_field`), in id order
        (the fields every ecosystem has)."""
        total = hashlib.sha256()
        for key in self.ids:
            total.update(key.encode())
            for name in ("s1", "s2", mask_field(key)):
                total.update(self.digests[key][name])
        return total.hexdigest()

    def first_ids(self, n: int = 2) -> str:
        return ", ".join(self.ids[:n]) + (" …" if self.count > n else "")

    def difference(self, reference: Fingerprint) -> str | None:
        """The first way this differs from ``reference`` (ids, then any field both carry), or None."""
        if set(self.digests) != set(reference.digests):
            missing = sorted(set(reference.digests) - set(self.digests))
            extra = sorted(set(self.digests) - set(reference.digests))
            return f"ids differ: missing {missing[:3]}{' …' if len(missing) > 3 else ''}, unexpected {extra[:3]}"
        for key in self.ids:
            mine, theirs = self.digests[key], reference.digests[key]
            for name in FIELDS:
                if name in mine and name in theirs and mine[name] != theirs[name]:
                    return f"{key}: {name} differs (dtype, shape or bytes)"
        return None


def _digest(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).digest()


def fingerprint(patches: Iterable[Canonical]) -> Fingerprint:
    """Digest every patch as it streams by (order of arrival does not matter); a repeated id is an error."""
    digests: dict[str, dict[str, bytes]] = {}
    for p in patches:
        if p.id in digests:
            raise ValueError(f"patch {p.id} returned twice")
        digests[p.id] = {name: _digest(getattr(p, name)) for name in FIELDS if getattr(p, name) is not None}
    return Fingerprint(digests)


def _season(value) -> np.ndarray:
    """A season class as each ecosystem gives it (a tensor, a NumPy or a Python int) as int64."""
    return np.asarray(value, dtype=np.int64)


def from_core(root: str | os.PathLike[str], ids: Iterable[PatchId]) -> Iterator[Canonical]:
    """The reader's arrays: the reference every ecosystem is compared with."""
    for pid in ids:
        arrays = read_triplet(root, pid)
        dfc, _, multi = label_fields(pid, arrays)
        yield Canonical(pid.name, arrays["s1"], arrays["s2"], arrays["lc"][0], arrays["lc"],
                        dfc if pid.is_dfc2020 else None, _season(season_class(pid.season)), multi)


def from_torchgeo(root: str | os.PathLike[str], split: str) -> Iterator[Canonical]:
    """``torchgeo.datasets.SEN12MS(root, split)`` after registering the plugin (all 15 bands; the
    default mask: IGBP, or a DFC2020 split's 10 m label)."""
    # Each ecosystem is imported only when it is read: each is an optional extra.
    import torchgeo.datasets

    import sen12ms_plugins.torchgeo  # noqa: F401  (registers the plugin's class under torchgeo's name)

    dataset = torchgeo.datasets.SEN12MS(str(root), split=split, metadata=True, scene_label="multi")
    n_s1 = len(facts.BANDS["s1"])
    for i in range(len(dataset)):
        sample = dataset[i]
        image = sample["image"].numpy()
        # S2 was widened to float32 by torchgeo; its values (< 2**24) convert back exactly.
        s1, s2 = image[:n_s1].astype(np.float32), image[n_s1:].astype(np.uint16)
        scene = {"season": _season(sample["season"]), "labels": sample["label"].numpy().astype(np.bool_)}
        if mask_field(sample["patch_id"]) == "dfc":
            yield Canonical(sample["patch_id"], s1, s2, None, dfc=sample["mask"].numpy().astype(np.uint8), **scene)
        else:
            yield Canonical(sample["patch_id"], s1, s2, sample["mask"].numpy().astype(np.uint16), **scene)


def from_tfds(root: str | os.PathLike[str], split: str, data_dir: str | os.PathLike[str]) -> Iterator[Canonical]:
    """``tfds.load("sen12ms", split=split)`` (config ``all``), prepared from ``root`` into ``data_dir``."""
    import tensorflow_datasets as tfds

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder; loads Triton before TensorFlow)

    ds = tfds.load("sen12ms", split=split, data_dir=str(data_dir), builder_kwargs={"root": str(root)})
    for ex in tfds.as_numpy(ds):
        lc = np.moveaxis(ex["lc"], -1, 0)  # HWC -> CHW
        patch_id = ex["id"].decode()
        dfc = ex["dfc"] if mask_field(patch_id) == "dfc" else None
        yield Canonical(patch_id, np.moveaxis(ex["s1"], -1, 0), np.moveaxis(ex["s2"], -1, 0), ex["igbp"], lc, dfc,
                        _season(ex["season"]), ex["labels"])


def from_hf(split: str, cache_dir: str | os.PathLike[str] | None = None) -> Iterator[Canonical]:
    """``datasets.load_dataset("sen12ms", "all", split=split)`` by name (after ``sen12ms prepare-hf``).

    Read through Arrow, which keeps uint16 (the numpy and torch formatters widen it to int64).
    """
    import datasets

    from ..hf.features import table_to_numpy

    ds = datasets.load_dataset("sen12ms", "all", split=split, cache_dir=None if cache_dir is None else str(cache_dir))
    for batch in ds.with_format("arrow").iter(batch_size=16):
        columns = table_to_numpy(batch)
        for i, name in enumerate(columns["id"]):
            dfc = columns["dfc"][i] if mask_field(str(name)) == "dfc" else None
            yield Canonical(str(name), columns["s1"][i], columns["s2"][i], columns["igbp"][i], columns["lc"][i], dfc,
                            _season(columns["season"][i]), columns["labels"][i])


def isolated_env(cache_dir: Path) -> dict[str, str]:
    """Environment for a ``datasets`` cache of its own, offline (the user's cache is left alone),
    and TensorFlow's C++ logging limited to errors."""
    return {"HF_DATASETS_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2"}
