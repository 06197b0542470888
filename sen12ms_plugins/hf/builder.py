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

* ``root``: the dataset root; else ``$SEN12MS_ROOT``, else ``data_dir``.  Without
  ``download`` a root that does not exist, holds no triplet or holds an unfinished
  download is an error at once, naming the command that downloads
  (:func:`sen12ms_plugins.acquisition.download.require_ready`);
* ``download``: complete the root first with the core downloader
  (:func:`sen12ms_plugins.acquisition.download.fetch_missing`: the request recorded by
  ``sen12ms download --seasons/--sensors``, else all 12 archives; the size is printed
  first), from ``mirrors``, against the md5s of ``checksums`` (a manifest replacing the
  official md5s, e.g. for a mirror of the built-in sample).  It runs in
  ``download_and_prepare`` (or ``as_streaming_dataset``), never in the constructor;
* ``verify``: check the root with :func:`sen12ms_plugins.acquisition.verify.check_root` before
  generating, and fail with its problems.

They are builder attributes, not configuration parameters, so the configuration ids
stay ``all``, ``s2`` and ``s1s2``; what the root holds enters the cache key through the
builder's ``hash`` instead (:func:`root_fingerprint`: the root's path, the name, size and
modification time of every triplet file, the patch size, this package's version and a digest
of the features), so a root whose files changed, even in place under the same names, or
data prepared with other features, is prepared anew.  Every
prepared folder holds :data:`~sen12ms_plugins.acquisition.bookkeeping.SOURCE_RECORD`, saying
which root, fingerprint and content stamp it was made from.  Split sizes and array shapes depend on the root, so the builder never
takes them from a dataset card (``datasets<4`` reads one next to a loading script, and
``datasets-cli test --save_info`` would write one): it records none.

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
import posixpath
from pathlib import Path
from typing import Any, Iterator, Sequence

import datasets
from datasets.naming import filenames_for_dataset_split

from .. import __version__
from ..acquisition.bookkeeping import SOURCE_RECORD, Record, source_fields
from ..acquisition.download import fetch_missing, present_index, require_ready
from ..acquisition.verify import check_root
from ..dataset import facts
from ..dataset.ids import PatchId
from ..dataset.index import Index, content_stamp
from ..dataset.root import resolve_root
from ..dataset.splits import ALL_SPLITS, DFC2020_SPLITS, STORED_SPLITS, TRAIN_PARTS, compute_splits, how_to_add_dfc2020
from ..errors import DFC2020NotAddedError, SEN12MSError
from ..fsutil import link_file
from ..reading.configs import CONFIGS, DEFAULT_CONFIG, get_config
from ..reading.examples import patch_size_of, read_example
from ..reading.reader import probe_layouts
from .features import check_example_size, example_nbytes, features_digest, hf_features

#: Largest Arrow record batch the builder writes, as ``datasets`` aims for in Parquet row groups.
MAX_BATCH_BYTES = 100 * 1024 * 1024

#: How to ask this builder to download, for the error messages of the core's root check.
OPT_IN = "or pass download=True to the builder"


def root_fingerprint(root: Path, stamp: str, config_name: str, patch_size: int) -> str:
    """What identifies prepared data: package version, configuration and its features, root, patch
    size and the root's :func:`~sen12ms_plugins.dataset.index.content_stamp` (names, sizes, times
    of its files)."""
    digest = hashlib.sha256()
    features = features_digest(get_config(config_name), patch_size)
    for part in (__version__, config_name, features, str(root.resolve()), str(patch_size), stamp):
        digest.update(part.encode() + b"\0")
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
        self._download, self._mirrors, self._checksums = bool(download), mirrors, checksums
        # A dataset card's infos (datasets<4 reads the card next to a loading script) describe
        # the root they were recorded on: split sizes and patch size are this root's own.
        kwargs.pop("info", None)  # see also get_exported_dataset_info
        self._root = resolve_root(root, fallback=kwargs.get("data_dir"), must_exist=False)
        if download:  # fetched by download_and_prepare; until then, what is there (nothing is created)
            index = present_index(self._root)
        else:
            index = require_ready(self._root, opt_in=OPT_IN)
        self._datasets_arguments = (args, kwargs)
        self._init_builder(index)

    def _init_builder(self, index: Index) -> None:
        """Key the ``datasets`` builder on what the root holds now (see :func:`root_fingerprint`)."""
        args, kwargs = self._datasets_arguments
        kwargs = dict(kwargs)
        self._index = index
        self._patch_size = patch_size_of(self._root, index)
        self._content_stamp = content_stamp(index)
        self._fingerprint = self.fingerprint_for(self._sen12ms_config.name)
        # A loading script (datasets<4) passes the hash of its code: keep it in the key.
        kwargs["hash"] = f"{kwargs['hash']}-{self._fingerprint}" if kwargs.get("hash") else self._fingerprint
        # datasets names a builder after its module ("builder"); a loading script passes its own name
        kwargs.setdefault("dataset_name", facts.NAME)
        if not kwargs.get("writer_batch_size"):
            row_bytes = example_nbytes(hf_features(self._sen12ms_config, self._patch_size))
            kwargs["writer_batch_size"] = max(1, min(1000, MAX_BATCH_BYTES // row_bytes))
        super().__init__(*args, **kwargs)

    def fingerprint_for(self, config_name: str) -> str:
        """The cache key of ``config_name`` on this root as this builder found it."""
        return root_fingerprint(self._root, self._content_stamp, config_name, self._patch_size)

    def _fetch_if_asked(self) -> None:
        """``download=True``: complete the root (not in the constructor), then key the builder on it."""
        if not self._download:
            return
        index = fetch_missing(self._root, mirrors=self._mirrors, checksums=self._checksums)
        self._download = False  # done: preparing or streaming again does not look again
        self._init_builder(index)

    def download_and_prepare(self, *args: Any, **kwargs: Any) -> None:
        self._fetch_if_asked()
        super().download_and_prepare(*args, **kwargs)

    def as_streaming_dataset(self, *args: Any, **kwargs: Any) -> Any:
        self._fetch_if_asked()
        return super().as_streaming_dataset(*args, **kwargs)

    def get_exported_dataset_info(self) -> datasets.DatasetInfo:
        # datasets<4 starts the infos of a builder created without ``info`` from that card
        # too: the root's own infos come from _info() and from what was prepared from it.
        return datasets.DatasetInfo()

    def _save_infos(self) -> None:
        # datasets<4: ``datasets-cli test --save_info`` would write this root's split sizes and
        # patch size into the card next to the script, and every later load of another root
        # would fail against them (NonMatchingSplitsSizesError).
        print(f"sen12ms: no dataset infos recorded: split sizes and array shapes depend on the root "
              f"({self._root}); every load computes them from the root it is given")

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
        # written into the unfinished folder, so it arrives with the data
        path = posixpath.join(self._output_dir, SOURCE_RECORD)
        fields = source_fields(self._root, self._index, self._content_stamp, self._sen12ms_config.name,
                               self._patch_size, fingerprint=self._fingerprint, package_version=__version__)
        with self._fs.open(path, "wb") as f:
            f.write(Record(Path(path)).encode(fields))
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

