"""Benchmark of the TFDS builder: examples per second for generation and reading.

Not a test: it prints figures.  On a built-in sample of real-size (256x256 px)
patches, in one run:

* the raw read ceiling: ``read_triplet`` of every triplet (rasterio only), and
  ``make_example`` (the same plus georeference, masks and scene labels: what generation
  must do);
* generation with the plain generator (TFDS's default tfrecord format, and
  array_record), and as a Beam pipeline on 2 worker processes (the FnApiRunner, the
  local engine of Beam's DirectRunner; skipped with a note when apache-beam is missing).
  A Beam run pays a fixed cost (starting the workers, each importing TensorFlow and
  TFDS); the Beam line also builds a 1-patch-per-scene sample and prints the
  marginal rate, (N - n) / (T - t), which is what a large dataset sees;
* reading: ``tfds.load`` (tf.data over tfrecord, decoded to numpy) and
  ``tfds.data_source`` (array_record, random order, no TensorFlow).

Generation rates count the examples written (``train`` is linked, not written).
Files are read from the page cache (each pass is preceded by a warm-up read); the
ceiling and reading lines are the best of 3 passes, generation lines a single run.
The machine's load average is printed: on a shared machine the figures move with it.

    python benchmarks/bench_tfds.py [--patches-per-scene 6] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from _common import sample_root

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

    triplets = build_index(root).triplets
    read = _best(lambda: _timed(triplets, lambda pid: read_triplet(root, pid)))
    print(f"  read_triplet (raw read ceiling)      {_rate(*read)}")
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


def _read_tf_data(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    def one_pass() -> tuple[int, float]:
        dataset = tfds.as_numpy(tfds.load("sen12ms", split="train", data_dir=data_dir))
        return _timed(dataset, lambda example: example)

    print(f"  tfds.load train, tf.data -> numpy    {_rate(*_best(one_pass))}")


def _read_data_source(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    source = tfds.data_source("sen12ms", split="train", data_dir=data_dir)
    order = list(range(len(source)))
    random.Random(0).shuffle(order)
    print(f"  data_source train, random order      {_rate(*_best(lambda: _timed(order, source.__getitem__)))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches-per-scene", type=int, default=6,
                        help="patches in each of the sample's 20 scenes (default 6: 120 triplets)")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the sample in this folder")
    args = parser.parse_args()
    os.environ.pop("SEN12MS_ROOT", None)

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    with tempfile.TemporaryDirectory(prefix="bench-tfds-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        print("sample (256x256 px patches):")
        root = sample_root(base, args.patches_per_scene)
        small = sample_root(base, 1)
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

        print("\nreading (warm page cache):")
        _read_tf_data(out / "plain")
        _read_data_source(out / "array_record")


if __name__ == "__main__":
    main()
