"""SEN12MS as a Hugging Face ``datasets`` builder (``GeneratorBasedBuilder``).

SEN12MS (its figures are in :mod:`sen12ms_plugins.dataset.facts`): co-registered 256x256 px
patch triplets at 10 m of Sentinel-1 SAR (VV, VH; float32 dB), Sentinel-2 top-of-atmosphere
reflectance (13 bands; uint16, x10000) and MODIS land cover (IGBP and three LCCS layers)
from scenes in four seasons (Schmitt et al. 2019, doi:10.5194/isprs-annals-IV-2-W7-153-2019;
CC-BY-4.0).

Configurations (:mod:`sen12ms_plugins.reading.configs`): ``all`` (default), ``s2``, ``s1s2``.
Splits (:mod:`sen12ms_plugins.dataset.splits`): ``train``, ``holdout`` (the official hold-out
scenes; torchgeo's ``test``), ``validation`` (scene-level, ~10% of ``train``),
``train_minus_validation``; ``dfc2020_validation`` and ``dfc2020_test`` when the root holds
DFC2020 (``sen12ms add-dfc2020``; their ``dfc`` field is the contest's 10 m label).  Fields:
:mod:`sen12ms_plugins.reading.examples`.  ``as_dataset`` of a DFC2020 split the prepared
data lacks is a ``DFC2020NotAddedError`` saying how to add it.

The same class serves both generations of ``datasets``:

* ``datasets>=4`` (no loading scripts)::

      builder = Sen12ms(config_name="all", root="/data/sen12ms")
      builder.download_and_prepare()
      holdout = builder.as_dataset(split="holdout")

* ``datasets<4``: ``hf_loading_script/sen12ms.py`` subclasses it, so
  ``load_dataset("hf_loading_script/sen12ms.py", data_dir=ROOT, split="holdout",
  trust_remote_code=True)`` works.

Builder arguments besides those of ``datasets``:

* ``root``: the dataset root; else ``$SEN12MS_ROOT``, else ``data_dir``;
* ``download``: fetch, verify and extract what is missing with
  :func:`sen12ms_plugins.acquisition.download.ensure_dataset` when the builder is created, from
  ``mirrors``, against the md5s of ``checksums`` (a manifest replacing the official
  md5s, e.g. for a mirror of the built-in sample);
* ``verify``: check the root with :func:`sen12ms_plugins.acquisition.verify.check_root` before
  generating, and fail with its problems.

They are builder
attributes, not configuration parameters, so the configuration ids stay ``all``, ``s2``
and ``s1s2``; the root enters the cache key through the builder's ``hash`` instead
(a fingerprint of the root's path, its triplets, the patch size and this package's
version), so a root with different content is prepared anew.

The ``train`` split is not generated twice: ``train_minus_validation`` and
``validation`` are written, and ``train`` is made of hard links to their Arrow files
(``train`` = the ``train_minus_validation`` rows, then the ``validation`` rows).

On a partial root a split without members is not written: one ``EmptySplitWarning`` says
which and why (:meth:`sen12ms_plugins.dataset.splits.Splits.with_members`), and ``train``
is made of the parts that have members.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import datasets
from datasets.naming import filenames_for_dataset_split

from .. import __version__
from ..acquisition.download import ensure_dataset
from ..acquisition.verify import check_root
from ..dataset import facts
from ..dataset.ids import PatchId
from ..dataset.index import Index, build_index
from ..dataset.root import resolve_root
from ..dataset.splits import ALL_SPLITS, DFC2020_SPLITS, STORED_SPLITS, TRAIN_PARTS, compute_splits, how_to_add_dfc2020
from ..errors import DFC2020NotAddedError, SEN12MSError
from ..fsutil import link_file
from ..reading.configs import CONFIGS, DEFAULT_CONFIG, get_config
from ..reading.examples import patch_size_of, read_example
from ..reading.reader import probe_layouts
from .features import check_example_size, example_nbytes, hf_features

#: Largest Arrow record batch the builder writes, as ``datasets`` aims for in Parquet row groups.
MAX_BATCH_BYTES = 100 * 1024 * 1024


def root_fingerprint(root: Path, index: Index, config_name: str, patch_size: int) -> str:
    """What identifies prepared data: package version, configuration, root, patch size, triplets."""
    digest = hashlib.sha256()
    for part in (__version__, config_name, str(root.resolve()), str(patch_size)):
        digest.update(part.encode() + b"\0")
    for pid in (*index.triplets, *index.dfc2020):
        digest.update(pid.name.encode() + b"\n")
    return digest.hexdigest()[:16]



class Sen12ms(datasets.GeneratorBasedBuilder):
    """SEN12MS patch triplets with the project's named splits (see the module docstring)."""

    VERSION = datasets.Version(__version__)
    # one per entry of the shared table, so TFDS and datasets offer the same configurations
    BUILDER_CONFIGS = [
        datasets.BuilderConfig(name=c.name, version=datasets.Version(__version__), description=c.description)
        for c in CONFIGS.values()
    ]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG

    def __init__(
        self,
        *args: Any,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        mirrors: Sequence[str] | None = None,
        checksums: Any = None,
        verify: bool = False,
        **kwargs: Any,
    ):
        config_name = kwargs.get("config_name") or kwargs.get("name") or DEFAULT_CONFIG
        self._sen12ms_config = get_config(config_name)
        self._verify = verify
        self._root = resolve_root(root, fallback=kwargs.get("data_dir"), must_exist=not download)
        if download:
            self._index = ensure_dataset(self._root, mirrors=mirrors, checksums=checksums)
        else:
            self._index = build_index(self._root)
        self._patch_size = patch_size_of(self._root, self._index)
        fingerprint = root_fingerprint(self._root, self._index, self._sen12ms_config.name, self._patch_size)
        # A loading script (datasets<4) passes the hash of its code: keep it in the key.
        kwargs["hash"] = f"{kwargs['hash']}-{fingerprint}" if kwargs.get("hash") else fingerprint
        # datasets names a builder after its module ("builder"); a loading script passes its own name
        kwargs.setdefault("dataset_name", facts.NAME)
        if not kwargs.get("writer_batch_size"):
            row_bytes = example_nbytes(hf_features(self._sen12ms_config, self._patch_size))
            kwargs["writer_batch_size"] = max(1, min(1000, MAX_BATCH_BYTES // row_bytes))
        super().__init__(*args, **kwargs)

    @property
    def root(self) -> Path:
        """The SEN12MS root this builder reads."""
        return self._root

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=facts.DESCRIPTION,
            features=hf_features(self._sen12ms_config, self._patch_size),
            homepage=facts.HOMEPAGE,
            citation=facts.CITATION_BIBTEX,
            license=facts.LICENSE,
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        if self._verify:
            report = check_root(self._root)
            if not report.ok:
                raise SEN12MSError(f"{self._root}: verification failed:\n  " + "\n  ".join(report.problems))
        splits = compute_splits(self._index)
        # A split without members in this root (a partial root) is left out, with one warning
        # why; none at all is an EmptySplitError, before anything is written.
        kept = splits.with_members(splits.names, doing="the Hugging Face build writes {splits} only")
        # A layout the fast reader leaves to rasterio is announced here, before any worker of
        # num_proc starts (datasets forks them: they inherit that it was announced).
        first = next(iter(self._index.triplets or self._index.dfc2020))
        probe_layouts(self._root, first, self._sen12ms_config.read_bands())
        members = {name: list(splits[name]) for name in STORED_SPLITS if name in kept}
        # train = its stored parts, in that order, wherever it is produced; it comes last
        # so that, when prepared, its parts exist to be linked to
        if "train" in kept:
            members["train"] = [pid for part in TRAIN_PARTS if part in members for pid in members[part]]
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"patches": [tuple(p) for p in patches]})
            for name, patches in members.items()
        ]

    def _generate_examples(self, patches: list[tuple[str, int, int]]) -> Iterator[tuple[str, dict[str, Any]]]:
        for raw in patches:
            pid = PatchId(*raw)
            example = read_example(self._root, pid, self._sen12ms_config)
            yield pid.name, check_example_size(example, self._patch_size, self._root, pid)

    def as_dataset(self, split: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``datasets``' own, but a DFC2020 split that the prepared data lacks is a
        :class:`~sen12ms_plugins.errors.DFC2020NotAddedError` saying how to add it."""
        name = split.split("[", 1)[0].strip() if isinstance(split, str) else None
        if name in DFC2020_SPLITS and self.info.splits and name not in self.info.splits:  # prepared without it
            raise DFC2020NotAddedError(f"split {name!r} is not in this preparation of {self._root}: "
                                       f"{how_to_add_dfc2020(self._root, DFC2020_SPLITS[name])}")
        return super().as_dataset(split, *args, **kwargs)

    # --- train without a second copy ------------------------------------------------

    def _prepare_split(self, split_generator: datasets.SplitGenerator, **kwargs: Any) -> None:
        if split_generator.name == "train":
            self._link_train(split_generator.split_info, kwargs.get("file_format", "arrow"))
            return
        try:
            super()._prepare_split(split_generator, **kwargs)
        except datasets.exceptions.DatasetGenerationError as exc:
            # datasets wraps every generator error in a generic message; ours names the file
            if isinstance(exc.__cause__, SEN12MSError):
                raise exc.__cause__ from None
            raise
        self._prepared_parts[split_generator.name] = split_generator.split_info

    def _download_and_prepare(self, dl_manager: Any, verification_mode: Any, **prepare_split_kwargs: Any) -> None:
        self._prepared_parts: dict[str, datasets.SplitInfo] = {}
        super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        ordered = datasets.SplitDict(dataset_name=self.dataset_name)
        for name in ALL_SPLITS:  # the project's order, train first; an empty split was not written
            if name in self.info.splits:
                ordered.add(self.info.splits[name])
        self.info.splits = ordered

    def _link_train(self, train: datasets.SplitInfo, file_format: str) -> None:
        """Make ``train``'s files hard links to its parts' files, and fill in its split info."""
        out = self._output_dir
        parts = [self._prepared_parts[name] for name in TRAIN_PARTS if name in self._prepared_parts]
        sources: list[str] = []
        lengths: list[int] = []
        for part in parts:
            sources += filenames_for_dataset_split(out, self.dataset_name, part.name, file_format, part.shard_lengths)
            lengths += list(part.shard_lengths) if part.shard_lengths else [part.num_examples]
        targets = filenames_for_dataset_split(out, self.dataset_name, "train", file_format, lengths)
        for source, target in zip(sources, targets):
            link_file(source, target)
        train.num_examples = sum(p.num_examples for p in parts)
        train.num_bytes = sum(p.num_bytes for p in parts)
        train.shard_lengths = lengths if len(lengths) > 1 else None

