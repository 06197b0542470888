"""SEN12MS for TensorFlow Datasets: the ``sen12ms`` builder.

The dataset's figures are in ``sen12ms_plugins.dataset.facts``: co-registered triplets of
256 x 256 px patches at 10 m -- Sentinel-1 SAR (VV, VH; float32 dB), Sentinel-2
(13 bands; uint16 reflectance x 10000) and MODIS land cover (IGBP + 3 LCCS
layers) -- from scenes in 4 seasons; about 510 GB of GeoTIFF.

Splits (the core's, ``sen12ms_plugins.dataset.splits``): ``train``,
``holdout`` (the official hold-out scenes, torchgeo's ``test``),
``validation`` (a scene-level ~10% of ``train``) and ``train_minus_validation``;
and, when the root holds DFC2020 (``sen12ms add-dfc2020``), ``dfc2020_validation`` and
``dfc2020_test`` (the 2020 Data Fusion Contest's patches, whose ``dfc`` field is the
contest's 10 m label; the fields are described in ``sen12ms_plugins.reading.examples``).
``train`` is not written twice: its shards are links to those of
``train_minus_validation`` and ``validation`` (see ``train_split``).  On a partial root
a split without members is not written (one ``EmptySplitWarning`` says which and why;
``train`` is then the parts that have members).  Asking for a DFC2020 split that the
prepared data lacks is a ``DFC2020NotAddedError`` saying how to add it and rebuild.

Where the data comes from (one rule for every ecosystem): the ``root`` builder
argument, else ``$SEN12MS_ROOT``, else TFDS's manual folder (``--manual_dir``,
default ``<data_dir>/downloads/manual``).  Nothing is downloaded unless asked: a root
that does not exist, holds no SEN12MS triplet or holds an unfinished download is an
error naming it and the command that downloads (``sen12ms_plugins.acquisition.download.require_ready``);
a root given as argument or by ``$SEN12MS_ROOT`` is checked before TFDS writes anything.
With the builder argument ``download=True`` the core downloader (mirrors, resume, md5
checks, extraction) completes the root first: the request recorded by ``sen12ms
download --seasons/--sensors`` when there is one, else all 12 archives (about
``facts.TOTAL_GB_APPROX`` GB, printed before it starts).

What a data_dir holds is served only for what was asked: every version folder records
the root it was prepared from and that root's ``content_stamp`` (``SOURCE_RECORD``), and
prepared data loaded with a root given (argument or ``$SEN12MS_ROOT``) that is another
root, or the same root after its files changed, is a ``PreparedDataMismatchError`` naming
both and the call that prepares again (:data:`PREPARE_AGAIN`); without a root it is read
as it is.  A data_dir holding another version of a config, and none of this one, is the same
error rather than a build nobody asked for.  Nothing is rebuilt unasked.

Configurations and example fields are the core's (``sen12ms_plugins.reading.configs``,
``sen12ms_plugins.reading.examples``), as in the Hugging Face builder; images are stored
height x width x bands.

Generation runs as an Apache Beam pipeline when a Beam runner or pipeline options
are configured (``tfds build --beam_pipeline_options=...``), else as a plain
generator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from sen12ms_plugins._import_order import load_triton_first
from sen12ms_plugins.acquisition.bookkeeping import SOURCE_RECORD, Record, source_fields
from sen12ms_plugins.acquisition.download import fetch_missing, present_index, require_ready
from sen12ms_plugins.dataset import facts, labels
from sen12ms_plugins.dataset.index import Index, content_stamp
from sen12ms_plugins.dataset.root import ENV_VAR, resolve_root
from sen12ms_plugins.dataset.splits import (
    ALL_SPLITS,
    DFC2020_SPLITS,
    STORED_SPLITS,
    TRAIN_PARTS,
    compute_splits,
    how_to_add_dfc2020,
)
from sen12ms_plugins.errors import DFC2020NotAddedError, NoRootGivenError, PreparedDataMismatchError
from sen12ms_plugins.reading.configs import CONFIGS, DEFAULT_CONFIG, DatasetConfig, get_config
from sen12ms_plugins.reading.examples import (
    MASK_DTYPES,
    METADATA_DTYPES,
    SCENE_LABEL_NAMES,
    SEASON_NAMES,
    patch_size_of,
)
from sen12ms_plugins.tfds import generation, train_split

log = logging.getLogger(__name__)

# tensorflow_datasets imports TensorFlow only when a dataset is read (tfds.load);
# Triton has to be loaded before that (see sen12ms_plugins._import_order).
load_triton_first()

#: One TFDS config per core configuration, same name and description.
BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=c.name, description=c.description) for c in CONFIGS.values()]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download and extract SEN12MS with the sen12ms-plugins command line (resumable, md5-checked,
from the official FTP and HTTPS servers or your mirrors; all 12 archives are about
{facts.TOTAL_GB_APPROX} GB, archive sizes are not published):
  sen12ms download --root /data/SEN12MS --extract
  sen12ms download --root /data/SEN12MS --seasons spring,fall --extract   # a part only
(--stream extracts while downloading; `sen12ms download --help` for mirrors.)
Then point the builder at that folder (the one holding ROIs1158_spring ...), first wins:
  1. tfds.load("sen12ms", builder_kwargs={{"root": "/data/SEN12MS"}});
  2. the {ENV_VAR} environment variable;
  3. TFDS's manual folder: tfds build --manual_dir /data/SEN12MS, or
     DownloadConfig(manual_dir=...) (default <data_dir>/downloads/manual).
Or let the builder download into that folder: builder_kwargs={{"root": ..., "download": True}}.
The DFC2020 splits (dfc2020_validation, dfc2020_test) come from zips on IEEE DataPort
(login), added to the same folder with `sen12ms add-dfc2020 --root DIR --from ZIPS`.
"""

#: How to ask this builder to download, for the error messages of the core's root check.
OPT_IN = 'or pass builder_kwargs={"root": ..., "download": True} to download through TFDS'
#: How to ask TFDS to prepare again what a data_dir holds (TFDS's own mode for it), for the errors
#: that refuse to serve or build data other than what was asked for.
PREPARE_AGAIN = ('tfds.load(..., download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig('
                 'download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS)}) (`tfds build --overwrite`)')


#: What in 2.0.0 changes what a reader of the data gets (the release note's first clause, and
#: what the refusal of another version's data says).
CHANGED_IN_2_0_0 = (f"labels: a fixed-size multi-hot (bool [{len(SCENE_LABEL_NAMES)}], entry k = dfc class k) "
                    "instead of a variable-length list, so every config batches with ds.batch(n)")


class Builder(tfds.core.GeneratorBasedBuilder):
    """SEN12MS patch triplets with the core's splits; generation with or without Beam."""

    # A version folder of another version in the data_dir is never rebuilt unasked
    # (_refuse_other_versions); data of 1.0.0 cannot be read as 2.0.0 (the labels feature changed).
    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "2.0.0": f"{CHANGED_IN_2_0_0}; the preparation records its root and the root's content stamp "
                 "(sen12ms_source.json) and is served only for that root as it was.",
        "1.0.0": "Initial release: splits train/holdout/validation/train_minus_validation; "
                 "dfc2020_validation and dfc2020_test when the root holds DFC2020.",
    }
    BUILDER_CONFIGS = BUILDER_CONFIGS
    DEFAULT_BUILDER_CONFIG_NAME = DEFAULT_CONFIG
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def __init__(
        self,
        *,
        root: str | None = None,
        download: bool = False,
        mirrors: Sequence[str] | None = None,
        checksums: Any = None,
        **kwargs: Any,
    ):
        """``root``: the SEN12MS folder (see the module docstring for the rule);
        ``download``: complete the root with the core downloader before preparing (off by
        default: a root that cannot be built from is an error);
        ``mirrors``/``checksums``: passed to the core downloader when it runs."""
        super().__init__(**kwargs)
        self._root = None if root is None else str(root)
        self._download = bool(download)
        self._mirrors = None if mirrors is None else list(mirrors)
        self._checksums = checksums
        # Both are settled by _generate_splits, the first step that sees the download config.
        self._use_beam = False
        self._manual_dir = None
        # What _download_and_prepare records (SOURCE_RECORD), set by _split_generators.
        self._source: dict[str, Any] = {}
        # The root the prepared data was found to hold, once checked (one stat per file: once a builder).
        self._checked_root: Path | None = None
        #: Beam counters of the last generation run as a pipeline, e.g. ``{"examples": 1000}``.
        self.beam_counters: dict[str, int] = {}
        # Pickled builders (Beam, multiprocessing) are rebuilt from this state.
        self._original_state.update(root=self._root, download=self._download, mirrors=self._mirrors,
                                    checksums=checksums)

    def _info(self) -> tfds.core.DatasetInfo:
        config = get_config(self.builder_config.name)
        return self.dataset_info_from_configs(
            features=_features(config),
            supervised_keys=_supervised_keys(config),
            homepage=facts.HOMEPAGE,
            license=facts.LICENSE,
        )

    # --- generation -------------------------------------------------------------------

    def download_and_prepare(self, **kwargs: Any) -> None:
        """TFDS's ``download_and_prepare``, after checking what it would do.

        * Data already prepared is reused only if it holds the root given (by argument or
          ``$SEN12MS_ROOT``) as the root is now (:meth:`_check_source`).
        * Nothing prepared in this version while the data_dir holds another version: an error,
          not a rebuild nobody asked for (:meth:`_refuse_other_versions`).
        * A root given by argument or ``$SEN12MS_ROOT`` is checked before TFDS creates any folder
          (unless ``download=True``): a mistyped root fails here, and nothing is downloaded.

        Preparing again is asked for with TFDS's ``REUSE_CACHE_IF_EXISTS`` mode (:data:`PREPARE_AGAIN`).
        """
        download_config = kwargs.get("download_config") or tfds.download.DownloadConfig()
        rebuild = download_config.download_mode.overwrite_dataset
        if not rebuild:
            self._check_data_dir()
        if not self._download and (rebuild or not self.is_prepared()):
            given = self._given_root()
            if given is not None:
                require_ready(given, opt_in=OPT_IN)
        super().download_and_prepare(**kwargs)

    def _given_root(self):
        """The root from the argument or ``$SEN12MS_ROOT``; None when it is TFDS's manual folder."""
        try:
            return resolve_root(self._root, must_exist=False)
        except NoRootGivenError:
            return None

    def _generate_splits(self, dl_manager, download_config):
        # The one place that sees the download config: decide here between Beam and a
        # plain generator, and where TFDS's manual folder is.
        self._use_beam = download_config.beam_runner is not None or download_config.beam_options is not None
        if self._use_beam:
            _require_beam()
        if self._given_root() is None:
            try:
                self._manual_dir = dl_manager.manual_dir
            except AssertionError:  # missing or empty: TFDS's message with our instructions ...
                if not self._download:
                    raise
                # ... unless the download is asked for: it fills that folder
                self._manual_dir = download_config.manual_dir or dl_manager.download_dir / "manual"
        written = {info.name: info for info in super()._generate_splits(dl_manager, download_config)}
        parts = [written[name] for name in TRAIN_PARTS if name in written]
        if parts:
            written["train"] = train_split.link_split("train", parts)
        return [written[name] for name in ALL_SPLITS if name in written]

    def _split_generators(self, dl_manager):
        root, index = self._prepare_root()
        self._source = source_fields(root, index, content_stamp(index), self.builder_config.name,
                                     patch_size_of(root, index), builder_version=str(self.version))
        splits = compute_splits(index)
        log.info("SEN12MS root %s: %s", root, {name: len(splits.members[name]) for name in splits.names})
        # A split without members in this root (a partial root) is left out, with one warning why.
        kept = splits.with_members(splits.names, doing="the TFDS build writes {splits} only")
        return {
            name: self._generate_examples(root=str(root), patch_ids=splits[name])
            for name in STORED_SPLITS if name in kept
        }

    def _download_and_prepare(self, dl_manager, download_config):
        super()._download_and_prepare(dl_manager, download_config)
        # Written into the unfinished folder TFDS renames when done: it arrives with the data.
        path = epath.Path(self.data_dir) / SOURCE_RECORD
        path.write_bytes(Record(Path(str(path))).encode(self._source))
        self._checked_root = Path(self._source["root"])

    # --- reading -------------------------------------------------------------------------

    def as_dataset(self, split=None, *args, **kwargs):
        self._check_data_dir()
        _check_dfc2020_split(self, split)
        _cache_tensor_dtypes(self.info.features)
        return super().as_dataset(split, *args, **kwargs)

    def as_data_source(self, split=None, *args, **kwargs):
        self._check_data_dir()
        _check_dfc2020_split(self, split)
        return super().as_data_source(split, *args, **kwargs)

    # --- what the data_dir holds ------------------------------------------------------------

    def _check_data_dir(self) -> None:
        """Before data is served or built: prepared data must hold the root asked for; nothing
        prepared in this version must not hide another version (TFDS would build it, or say only
        that nothing is prepared)."""
        if self.is_prepared():
            self._check_source()
        else:
            self._refuse_other_versions()

    def _check_source(self) -> None:
        """Prepared data is served for the root given (argument or ``$SEN12MS_ROOT``) only if it
        was prepared from that root as the root is now (same :func:`content_stamp`); a mistyped
        root is the core's one-line RootError.  Without a root, the data is served as it is: that
        is how it is read where the GeoTIFFs are not."""
        given = self._given_root()
        if given is None:
            return
        asked = given.resolve()
        if asked == self._checked_root:
            return
        index = self._index_for_check(given)
        record = self._read_source()
        if record is None:
            why = "which does not say which root it was prepared from"
        elif record.get("root") != str(asked):
            why = f"which was prepared from {record.get('root')}"
        elif record.get("content_stamp") != content_stamp(index):
            why = "which was prepared from it before its files changed (names, sizes or modification times)"
        else:
            self._checked_root = asked
            return
        raise PreparedDataMismatchError(
            f"{self.data_dir} does not hold {asked} as it is now, {why}: prepare it again from {asked} with "
            f"{PREPARE_AGAIN}, or give another data_dir")

    def _index_for_check(self, given: Path) -> Index:
        """What the root given holds now: checked as for preparing, or, with ``download=True``, as
        it is (a download would complete it only when preparing again)."""
        if not self._download:
            return require_ready(given, opt_in=OPT_IN)
        return present_index(given)

    def _read_source(self) -> dict[str, Any] | None:
        path = epath.Path(self.data_dir) / SOURCE_RECORD
        if not path.exists():
            return None
        return Record(Path(str(path))).decode(path.read_bytes())

    def _refuse_other_versions(self) -> None:
        """Nothing is prepared in this version, but the data_dir holds another version of this
        config: preparing would start a build nobody asked for (a full one, on all of SEN12MS)."""
        config_dir = epath.Path(self.data_dir).parent
        if not config_dir.exists():
            return
        others = sorted((p for p in config_dir.iterdir() if p.name != str(self.version)
                         and tfds.core.Version.is_valid(p.name) and (p / "dataset_info.json").exists()),
                        key=lambda p: tfds.core.Version(p.name))
        if not others:
            return
        old = others[-1]
        raise PreparedDataMismatchError(
            f"{config_dir} holds {self.name} {', '.join(p.name for p in others)}, not {self.version}, the version this "
            f"sen12ms-plugins reads ({CHANGED_IN_2_0_0}): prepare {self.version} with {PREPARE_AGAIN}, or read {old.name} as "
            f"it is with tfds.builder_from_directory({str(old)!r})")

    def _generate_examples(self, root: str, patch_ids):
        names = [pid.name for pid in patch_ids]
        config = self.builder_config.name
        if not self._use_beam:
            return (generation.make_example(name, root, config) for name in names)
        import apache_beam as beam  # deferred: the optional [beam] extra, needed only for Beam runs

        return (
            beam.Create(names)
            # Spread the patches over the workers: Create alone makes one bundle.
            | "Reshuffle" >> beam.Reshuffle()
            | "Read" >> beam.Map(generation.make_example_in_beam, root=root, config=config)
        )

    def _process_pipeline_result(self, pipeline_result) -> None:
        from apache_beam.metrics.metric import MetricsFilter  # deferred: the [beam] extra

        query = pipeline_result.metrics().query(MetricsFilter().with_namespace(generation.BEAM_NAMESPACE))
        self.beam_counters = {}
        for counter in query["counters"]:  # one result per step (split) and name: add them up
            name = counter.key.metric.name
            self.beam_counters[name] = self.beam_counters.get(name, 0) + counter.committed
        log.info("Beam pipeline done: %s", self.beam_counters)

    def _prepare_root(self):
        """The root by the shared rule, and its index: completed by the core downloader when
        ``download=True``, else checked (an error says what is missing and how to download)."""
        root = resolve_root(self._root, fallback=self._manual_dir, must_exist=False)
        if self._download:
            return root, fetch_missing(root, mirrors=self._mirrors, checksums=self._checksums)
        return root, require_ready(root, opt_in=OPT_IN)


def _check_dfc2020_split(builder: Builder, split) -> None:
    """A DFC2020 split asked for by name that the prepared data lacks: say how to get it
    (TFDS's own error would only list the splits there are)."""
    if not isinstance(split, str):
        return
    name = split.split("[", 1)[0].strip()
    # Not prepared yet (no split at all): TFDS says so itself.
    if name in DFC2020_SPLITS and builder.info.splits and name not in builder.info.splits:
        root = builder._root or f"${ENV_VAR}"
        raise DFC2020NotAddedError(
            f"split {name!r} is not in the prepared data ({builder.data_dir}): the root it was built from held no "
            f"DFC2020 {DFC2020_SPLITS[name]}; {how_to_add_dfc2020(root, DFC2020_SPLITS[name])}, then prepare again "
            f"with {PREPARE_AGAIN}")




def _cache_tensor_dtypes(features: tfds.features.FeaturesDict) -> None:
    """Fill in ``dtype`` of the Tensor features, so that TFDS's decoder of raw-bytes tensors
    (``Tensor.decode_example`` reads the deprecated ``self.dtype``) finds it computed and logs no
    "``FeatureConnector.dtype`` is deprecated" line per feature.  ``dtype`` is a
    ``functools.cached_property`` whose value is ``tf_dtype``; TensorFlow is in use here."""
    for feature in features.values():
        if isinstance(feature, tfds.features.Tensor):
            feature.__dict__.setdefault("dtype", feature.tf_dtype)


def _require_beam() -> None:
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise ImportError(
            "a Beam pipeline was configured but apache-beam is not installed: "
            "pip install 'sen12ms-plugins[beam]' (see docs/tfds.md for the protobuf constraint)"
        ) from None


# --- features ------------------------------------------------------------------------


def _features(config: DatasetConfig) -> tfds.features.FeaturesDict:
    """The fields of ``sen12ms_plugins.reading.examples`` as TFDS features, images in HWC order."""
    scene_label = {"names": list(SCENE_LABEL_NAMES)}
    features: dict[str, tfds.features.FeatureConnector] = {
        "id": tfds.features.Text(doc="Canonical patch id <season>_<scene>_p<patch>, e.g. ROIs1158_spring_124_p100 "
                                     "(DFC2020: ROIs0000_test_0_p17)."),
        "season": tfds.features.ClassLabel(
            names=list(SEASON_NAMES),
            doc="Meteorological season of the acquisition; -1 (ClassLabel's no label) for DFC2020 patches, "
                "whose season is unknown.",
        ),
        "scene": tfds.features.Scalar(np.dtype(METADATA_DTYPES["scene"]), doc="Scene (ROI) number within the season."),
        "patch": tfds.features.Scalar(np.dtype(METADATA_DTYPES["patch"]), doc="Patch number within the scene."),
        "lon": _metadata_float("lon", "Longitude of the patch centre, WGS 84 degrees (NaN: unknown, DFC2020)."),
        "lat": _metadata_float("lat", "Latitude of the patch centre, WGS 84 degrees (NaN: unknown, DFC2020)."),
    }
    for sensor in config.sensors:
        bands = config.bands[sensor]
        features[sensor] = tfds.features.Tensor(
            # Height and width are left open: SEN12MS patches are 256 x 256, the
            # project's samples are smaller.
            shape=(None, None, len(bands)),
            dtype=np.dtype(facts.DTYPES[sensor]),
            # Raw bytes keep uint16 as uint16 (encoding 'none' would widen it to int64).
            encoding=tfds.features.Encoding.BYTES,
            doc=f"{facts.SENSOR_TITLES[sensor]}, height x width x bands; bands {', '.join(bands)}.",
        )
    features["igbp"] = _mask("igbp", "IGBP land-cover class of every pixel (first lc band).", labels.IGBP_CLASSES)
    features["dfc"] = _mask("dfc", "Simplified IGBP (DFC2020) class of every pixel; 0 where IGBP has no class. "
                                   "In the dfc2020_* splits: the contest's hand-made 10 m label.", labels.DFC_CLASSES)
    features["label"] = tfds.features.ClassLabel(
        **scene_label, doc="Scene label: the most frequent dfc class (Schmitt & Wu 2021); 0 = no labelled pixel."
    )
    features["labels"] = tfds.features.Tensor(
        shape=(len(SCENE_LABEL_NAMES),), dtype=np.bool_,
        doc=tfds.features.Documentation(
            desc=f"Multi-hot multi-label: entry k is True when dfc class k covers at least "
                 f"{labels.MULTI_LABEL_THRESHOLD:.0%} of the patch (entry 0, No data, is never set).",
            value_range="; ".join(f"{k} {name}" for k, name in enumerate(SCENE_LABEL_NAMES)),
        ),
    )
    return tfds.features.FeaturesDict(features)


def _mask(name: str, desc: str, classes: Mapping[int, str]) -> tfds.features.Tensor:
    # zlib: masks are large uniform regions and compress well.
    return tfds.features.Tensor(
        shape=(None, None), dtype=np.dtype(MASK_DTYPES[name]), encoding=tfds.features.Encoding.ZLIB,
        doc=tfds.features.Documentation(
            desc=desc, value_range="; ".join(f"{value} {label}" for value, label in classes.items())
        ),
    )


def _metadata_float(name: str, doc: str) -> tfds.features.Tensor:
    # A plain float feature goes through tf.train.Example's float32 list (about 0.5 m
    # at these longitudes); raw bytes keep the float64 the reader computed.
    return tfds.features.Tensor(shape=(), dtype=np.dtype(METADATA_DTYPES[name]), encoding=tfds.features.Encoding.BYTES,
                                doc=doc)


def _supervised_keys(config: DatasetConfig):
    """``as_supervised=True`` gives (image, IGBP mask); image is a dict when S1 and S2 are both in."""
    images = [sensor for sensor in config.sensors if sensor in facts.IMAGE_SENSORS]
    inputs = images[0] if len(images) == 1 else {sensor: sensor for sensor in images}
    return (inputs, "igbp")
