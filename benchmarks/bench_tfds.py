"""Benchmark of the TFDS builder: examples per second for generation and reading.

Not a test: it prints figures.  On a built-in sample of real-size (256x256 px)
patches, by default in the real files' layout (pixel-interleaved, 1-row S2 strips,
uint8 land cover; ``--layout compact`` for the generator's compact one), in one run:

* ceilings: the three files of every triplet read whole with ``numpy.fromfile`` (the
  raw ceiling, no decoding), ``read_triplet`` (the project's reader) and
  ``make_example`` (the same plus georeference, masks and scene labels: what
  generation must do);
* generation with the plain generator (TFDS's default tfrecord format, and
  array_record), and as a Beam pipeline on 2 worker processes (the FnApiRunner, the
  local engine of Beam's DirectRunner; skipped with a note when apache-beam is missing).
  A Beam run pays a fixed cost (starting the workers, each importing TensorFlow and
  TFDS); the Beam line also builds a 1-patch-per-scene sample and prints the
  marginal rate, (N - n) / (T - t), which is what a large dataset sees;
* reading ``train``: its shard files read whole (the ceiling of reading stored data),
  ``tfds.load`` (tf.data over tfrecord, decoded to numpy) example by example and in
  batches of 16 (``ds.batch(16)``, as tf.data users write it), against a hand-written
  tf.data pipeline over the same shard files (``TFRecordDataset``, ``batch(16)``,
  ``parse_example``, ``decode_raw``; every field decoded, as ``tfds.load`` does), with the
  ratio of the two; and ``tfds.data_source`` (array_record, random order, no TensorFlow)
  example by example and 16 at a time (``__getitems__``).  The dtypes read are printed:
  uint16 stays uint16.

Generation rates count the examples written (``train`` is linked, not written).
Files are read from the page cache (each pass is preceded by a warm-up read); the
ceiling and reading lines are the best of 3 passes, generation lines a single run.
The machine's load average is printed: on a shared machine the figures move with it.

    python benchmarks/bench_tfds.py [--patches-per-scene 6] [--layout real|compact] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import raw_file_rate, raw_triplet_rate, sample_root

WRITTEN = ("holdout", "validation", "train_minus_validation")
BEAM_OPTIONS = ["--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.1f} examples/s  ({count} in {seconds:.2f} s)"


def _best(one_pass, passes: int = 3) -> tuple[int, float]:
    """(count, seconds) of the fastest of ``passes`` runs, after one warm-up run."""
    one_pass()
    runs = [one_pass() for _ in range(passes)]
    return min(runs, key=lambda run: run[1])


def _timed(items, work) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(1 for item in items if work(item) is not None)
    return count, time.perf_counter() - started


def _ceilings(root: Path) -> None:
    from sen12ms_plugins.dataset.index import build_index
    from sen12ms_plugins.reading.reader import read_triplet
    from sen12ms_plugins.tfds.generation import make_example

    print(f"  numpy.fromfile of the 3 files (raw)   {_rate(*raw_triplet_rate(root))}")
    triplets = build_index(root).triplets
    read = _best(lambda: _timed(triplets, lambda pid: read_triplet(root, pid)))
    print(f"  read_triplet (the reader)            {_rate(*read)}")
    made = _best(lambda: _timed(triplets, lambda pid: make_example(pid.name, str(root), "all")))
    print(f"  make_example (+ georeference, labels) {_rate(*made)}")


def _generate(root: Path, data_dir: Path, label: str | None = None, **prepare) -> tuple[int, float]:
    import tensorflow_datasets as tfds

    builder = tfds.builder("sen12ms", data_dir=data_dir, root=str(root))
    started = time.perf_counter()
    builder.download_and_prepare(**prepare)
    elapsed = time.perf_counter() - started
    written = sum(builder.info.splits[s].num_examples for s in WRITTEN)
    if label:
        print(f"  {label:<36} {_rate(written, elapsed)}", flush=True)
    return written, elapsed


def _train_files(data_dir: Path) -> tuple[list[Path], int]:
    """The shard files of the stored ``train`` split and the examples they hold."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("sen12ms", data_dir=data_dir)
    files = sorted(Path(builder.data_dir).glob("sen12ms-train.*"))
    return files, builder.info.splits["train"].num_examples


def _read_tf_data(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    files, examples = _train_files(data_dir)
    print(f"  the train shard files read whole      {_rate(*raw_file_rate(files, examples))}")

    def one_pass() -> tuple[int, float]:
        return _timed(tfds.as_numpy(tfds.load("sen12ms", split="train", data_dir=data_dir)), lambda example: example)

    first = next(iter(tfds.as_numpy(tfds.load("sen12ms", split="train", data_dir=data_dir))))
    print(f"  (dtypes read: s1 {first['s1'].dtype}, s2 {first['s2'].dtype}, lc {first['lc'].dtype}, "
          f"igbp {first['igbp'].dtype}, labels {first['labels'].dtype} {first['labels'].shape})")
    print(f"  tfds.load train, tf.data -> numpy    {_rate(*_best(one_pass))}")

    def batched(make) -> Callable[[], tuple[int, float, float]]:
        def one_batched_pass() -> tuple[int, float, float]:
            started, cpu = time.perf_counter(), _cpu_seconds()
            count = sum(len(batch["id"]) for batch in tfds.as_numpy(make()))
            return count, time.perf_counter() - started, _cpu_seconds() - cpu
        return one_batched_pass

    pipelines = {
        "ours": batched(lambda: tfds.load("sen12ms", split="train", data_dir=data_dir).batch(16).prefetch(2)),
        "theirs": batched(lambda: _hand_written(files, first["s2"].shape[0])),
        "decoding": batched(lambda: _hand_read_tfds_decoded(data_dir, files)),
    }
    # They take turns, best of 3 each: the machine's load moves all alike.  CPU time (all of the
    # process's threads) is reported too: on a shared machine it moves much less than wall time.
    runs: dict[str, list[tuple[int, float, float]]] = {name: [] for name in pipelines}
    for one_pass in pipelines.values():
        one_pass()
    for _ in range(3):
        for name, one_pass in pipelines.items():
            runs[name].append(one_pass())
    rate = {name: max(n / t for n, t, _ in found) for name, found in runs.items()}
    cpu = {name: min(c / n for n, _, c in found) for name, found in runs.items()}
    for name, label in (("ours", "tfds.load .batch(16).prefetch(2)"), ("theirs", "hand-written tf.data, same files"),
                        ("decoding", "hand-written reading, TFDS decoding")):
        print(f"  {label:<37}{rate[name]:8.1f} examples/s  ({cpu[name] * 1000:.2f} ms of CPU an example)")
    print(f"  tfds.load / hand-written              {rate['ours'] / rate['theirs']:8.2f}x  by time, "
          f"{cpu['theirs'] / cpu['ours']:.2f}x by CPU (the features' decoding {cpu['theirs'] / cpu['decoding']:.2f}x, "
          f"TFDS's reader {cpu['decoding'] / cpu['ours']:.2f}x)")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _hand_read_tfds_decoded(data_dir: Path, files: list[Path]):
    """The hand-written pipeline's reading with TFDS's parsing and decoding of the features, per
    example as ``tfds.load`` does it: tells the features' decoding from TFDS's reader."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder("sen12ms", data_dir=data_dir)
    builder.as_dataset(split="train")  # builds nothing; settles the features' dtypes as tfds.load does
    features = builder.info.features
    parser = tfds.core.example_parser.ExampleParser(features.get_serialized_info())
    return (tf.data.TFRecordDataset([str(f) for f in files])
            .map(lambda record: features.decode_example(parser.parse_example(record)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .batch(16).prefetch(2))


def _hand_written(files: list[Path], size: int):
    """What a tf.data user writes for these shard files by hand, knowing the layout
    (features.json): records in batches of 16, ``parse_example``, ``decode_raw`` (and zlib for
    the masks, stored compressed), static shapes; every field ``tfds.load`` gives."""
    import tensorflow as tf

    raw = tf.io.FixedLenFeature([], tf.string)
    spec = {"id": raw, "season": tf.io.FixedLenFeature([], tf.int64), "scene": tf.io.FixedLenFeature([], tf.int64),
            "patch": tf.io.FixedLenFeature([], tf.int64), "lon": raw, "lat": raw, "s1/value": raw, "s2/value": raw,
            "lc/value": raw, "igbp/value": raw, "dfc/value": raw, "label": tf.io.FixedLenFeature([], tf.int64),
            "labels": tf.io.FixedLenFeature([11], tf.int64)}

    def decode(records):
        ex = tf.io.parse_example(records, spec)
        out = {"id": ex["id"], "season": ex["season"], "label": ex["label"], "labels": tf.cast(ex["labels"], tf.bool),
               "scene": tf.cast(ex["scene"], tf.int32), "patch": tf.cast(ex["patch"], tf.int32)}
        for name in ("lon", "lat"):
            out[name] = tf.reshape(tf.io.decode_raw(ex[name], tf.float64), [-1])
        for name, dtype, bands in (("s1", tf.float32, 2), ("s2", tf.uint16, 13), ("lc", tf.uint16, 4)):
            out[name] = tf.reshape(tf.io.decode_raw(ex[f"{name}/value"], dtype), [-1, size, size, bands])
        for name, dtype in (("igbp", tf.uint16), ("dfc", tf.uint8)):
            inflated = tf.io.decode_compressed(ex[f"{name}/value"], compression_type="ZLIB")
            out[name] = tf.reshape(tf.io.decode_raw(inflated, dtype), [-1, size, size])
        return out

    return (tf.data.TFRecordDataset([str(f) for f in files]).batch(16)
            .map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))


def _read_data_source(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    files, examples = _train_files(data_dir)
    print(f"  the train shard files read whole      {_rate(*raw_file_rate(files, examples))}")
    source = tfds.data_source("sen12ms", split="train", data_dir=data_dir)
    order = list(range(len(source)))
    random.Random(0).shuffle(order)
    print(f"  data_source train, random order      {_rate(*_best(lambda: _timed(order, source.__getitem__)))}")
    batches = [order[k : k + 16] for k in range(0, len(order), 16)]

    def batched() -> tuple[int, float]:
        started = time.perf_counter()
        count = sum(len(source.__getitems__(keys)) for keys in batches)
        return count, time.perf_counter() - started

    print(f"  the same, __getitems__ of 16          {_rate(*_best(batched))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches-per-scene", type=int, default=6,
                        help="patches in each of the sample's 20 scenes (default 6: 120 triplets)")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the sample in this folder")
    parser.add_argument("--layout", choices=("real", "compact"), default="real",
                        help="the sample's file layout (default: real, that of the real files, with uint8 land cover)")
    args = parser.parse_args()
    lc_dtype = "uint8" if args.layout == "real" else "uint16"
    os.environ.pop("SEN12MS_ROOT", None)

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    with tempfile.TemporaryDirectory(prefix="bench-tfds-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        print(f"sample (256x256 px patches, {args.layout} layout, lc {lc_dtype}):")
        root = sample_root(base, args.patches_per_scene, layout=args.layout, lc_dtype=lc_dtype)
        small = sample_root(base, 1, layout=args.layout, lc_dtype=lc_dtype)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{os.cpu_count()} CPUs, load average {load}; config 'all' (s1, s2, lc, masks, labels, metadata)")
        started = time.perf_counter()
        import tensorflow  # noqa: F401  (the tfrecord writer and tfds.load need it: not part of any rate)

        print(f"importing TensorFlow took {time.perf_counter() - started:.1f} s (excluded below)")

        print("\nceiling (no TFDS):")
        _ceilings(root)

        out = Path(tmp) / "tfds"
        print("\ngeneration (download_and_prepare, examples written):")
        _generate(root, out / "plain", "plain generator, tfrecord")
        _generate(root, out / "array_record", "plain generator, array_record", file_format="array_record")
        try:
            from apache_beam.options.pipeline_options import PipelineOptions
        except ImportError:
            print("  Beam, 2 workers                      skipped: apache-beam is not installed (extra 'beam')")
        else:
            import tensorflow_datasets as tfds

            config = tfds.download.DownloadConfig(beam_options=PipelineOptions(flags=BEAM_OPTIONS))
            n, t = _generate(small, out / "beam-small", download_config=config)
            big_n, big_t = _generate(root, out / "beam", "Beam, 2 workers (FnApiRunner)", download_config=config)
            print(f"  {'  marginal, beyond the start-up':<36} {_rate(big_n - n, big_t - t)}")

        print("\nreading tfrecord (warm page cache):")
        _read_tf_data(out / "plain")
        print("\nreading array_record (warm page cache):")
        _read_data_source(out / "array_record")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nload average at the end: {load}")


if __name__ == "__main__":
    main()
