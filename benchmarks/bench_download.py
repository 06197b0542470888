"""Throughput of download, md5 verification and extraction against curl, md5sum and tar.

Not a test: it prints figures.  On archives of realistic size (default >= 1 GiB in
total, built from the project's own 256x256 sample GeoTIFFs), in one run:

* download over loopback HTTP (the test server, which sends with ``sendfile``):
  ``sen12ms_plugins.acquisition.download.download`` (md5 computed while streaming, ``.part`` then
  rename) versus ``curl -o`` per archive, and versus ``curl`` followed by ``md5sum``
  (what the bare tools need to reach the same verified state);
* md5 verification: ``verify_archives`` (threads across files) versus ``md5sum`` over
  the same files, also per core used;
* extraction: ``extract_archives`` versus ``tar xzf`` per archive.

Targets (issue 3): >= 0.8x curl, >= 0.9x md5sum per core, >= 1.0x tar xzf.

    python benchmarks/bench_download.py [--workdir DIR] [--size-gib 1.0] [--repeat 2]

The generated archives are kept in ``--workdir`` (default ``/tmp/sen12ms-bench``) and
reused by the next run; everything else the benchmark writes is deleted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sen12ms_plugins.acquisition.bookkeeping import RecordFile
from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.acquisition.extract import extract_archives
from sen12ms_plugins.acquisition.verify import verify_archives
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.sample import MANIFEST_NAME, make_sample, write_archives

GIB = 1 << 30
PATCHES_PER_SCENE = 15


def make_archives(workdir: Path, size_gib: float) -> Path:
    """The 12 archives (>= size_gib in total) and md5sums.txt in workdir/mirror, made once."""
    mirror = workdir / "mirror"
    if (mirror / MANIFEST_NAME).is_file():
        return mirror
    tree = workdir / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(mirror, ignore_errors=True)
    print(f"generating sample GeoTIFFs (256x256, {PATCHES_PER_SCENE} patches per scene) ...", flush=True)
    make_sample(tree, patch_size=facts.PATCH_SIZE, patches_per_scene=PATCHES_PER_SCENE)
    probe = workdir / "probe"
    probe.mkdir(exist_ok=True)
    write_archives(tree, probe)
    one_copy = sum(p.stat().st_size for p in probe.glob("*.tar.gz"))
    shutil.rmtree(probe)
    copies = max(1, -(-int(size_gib * GIB) // one_copy))
    print(f"one copy packs to {one_copy / GIB:.2f} GiB; packing {copies} copies (extra patch numbers, hard links)",
          flush=True)
    for scene_dir in [d for season in tree.iterdir() for d in season.iterdir()]:
        originals = list(scene_dir.iterdir())
        for k in range(1, copies):
            for f in originals:
                stem, patch = f.stem.rsplit("_p", 1)
                os.link(f, scene_dir / f"{stem}_p{int(patch) + 1000 * k}.tif")
    mirror.mkdir()
    write_archives(tree, mirror)
    shutil.rmtree(tree)
    return mirror


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def best(repeat: int, fn, before=None) -> tuple[float, float]:
    """The fastest of ``repeat`` runs (other processes share the CPUs)."""
    runs = []
    for _ in range(repeat):
        if before is not None:
            before()
        runs.append(timed(fn))
    return min(runs)


def fresh(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sen12ms-bench"))
    parser.add_argument("--size-gib", type=float, default=1.0, help="total archive size to generate (default 1.0)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement, best kept (default 2)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel files for md5 (default: CPUs)")
    args = parser.parse_args()
    for tool in ("curl", "md5sum", "tar"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for the comparison")
    args.workdir.mkdir(parents=True, exist_ok=True)
    mirror = make_archives(args.workdir, args.size_gib)
    names = list(facts.ARCHIVE_MD5)
    archives = [mirror / n for n in names]
    total = sum(p.stat().st_size for p in archives)
    manifest = mirror / MANIFEST_NAME
    mib = total / (1 << 20)
    print(f"\n{len(archives)} archives, {total / GIB:.2f} GiB; {os.cpu_count()} CPUs; gzip decoder: python-isal (threaded)")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other processes share these CPUs)\n")
    rows = []

    # The server runs in a process of its own, so it shares no interpreter (GIL) with either client.
    serve = f"from tests.servers.http_server import serve; serve({str(mirror)!r})"
    with subprocess.Popen([sys.executable, "-c", serve], cwd=REPO, stdout=subprocess.PIPE, text=True) as server_process:
        url = server_process.stdout.readline().strip()
        curl_dir, ours = args.workdir / "curl", args.workdir / "ours"

        def run_curl() -> None:
            for n in names:
                subprocess.run(["curl", "-sS", "--fail", "-o", str(curl_dir / n), url + n], check=True)

        def run_curl_md5() -> None:
            run_curl()
            subprocess.run(["md5sum", "--quiet", "-c", str(manifest)], cwd=curl_dir, check=True,
                           stdout=subprocess.DEVNULL)

        def run_ours(jobs: int):
            return lambda: download(ours, mirrors=[url], checksums=manifest, jobs=jobs, quiet=True)

        t_curl = best(args.repeat, run_curl, lambda: fresh(curl_dir))
        t_curl_md5 = best(args.repeat, run_curl_md5, lambda: fresh(curl_dir))
        t_ours1 = best(args.repeat, run_ours(1), lambda: fresh(ours))
        t_ours4 = best(args.repeat, run_ours(4), lambda: fresh(ours))
        shutil.rmtree(curl_dir)
        server_process.terminate()
    rows.append(("download, 1 at a time (md5 in stream)", "curl -o, sequential", t_ours1, t_curl))
    rows.append(("download, 1 at a time (md5 in stream)", "curl -o, then md5sum -c", t_ours1, t_curl_md5))
    rows.append(("download, 4 at a time (md5 in stream)", "curl -o, sequential", t_ours4, t_curl))

    verified = RecordFile.VERIFIED

    def forget() -> None:
        (ours / ".sen12ms" / verified).unlink(missing_ok=True)

    def run_md5sum() -> None:
        subprocess.run(["md5sum", *map(str, archives)], check=True, stdout=subprocess.DEVNULL)

    t_md5sum = best(args.repeat, run_md5sum)
    t_verify1 = best(args.repeat, lambda: verify_archives(ours, checksums=manifest, jobs=1, quiet=True), forget)
    t_verifyn = best(args.repeat, lambda: verify_archives(ours, checksums=manifest, jobs=args.jobs, quiet=True), forget)
    t_again = timed(lambda: verify_archives(ours, checksums=manifest, quiet=True))
    rows.append(("md5 verify, 1 thread", "md5sum", t_verify1, t_md5sum))
    rows.append((f"md5 verify, {args.jobs} threads", "md5sum", t_verifyn, t_md5sum))

    tar_out, ours_out = args.workdir / "tar-out", args.workdir / "ours-out"

    def run_tar() -> None:
        for p in archives:
            subprocess.run(["tar", "xzf", str(p), "-C", str(tar_out)], check=True)

    def prepare_ours() -> None:
        fresh(ours_out)
        for p in archives:
            os.link(p, ours_out / p.name)

    t_tar = best(args.repeat, run_tar, lambda: fresh(tar_out))
    shutil.rmtree(tar_out)
    t_extract = best(args.repeat, lambda: extract_archives(ours_out, checksums=manifest, quiet=True), prepare_ours)
    shutil.rmtree(ours_out)
    shutil.rmtree(ours)
    rows.append(("extract (md5 checked in the same pass)", "tar xzf", t_extract, t_tar))

    print(f"{'ours':<40} {'reference':<24} {'MiB/s':>6} {'ref':>6} {'ratio':>6}   "
          f"{'CPU s/GiB':>9} {'ref':>6} {'ratio':>6}")
    gib = total / GIB
    for label, ref, (t_ours, c_ours), (t_ref, c_ref) in rows:
        print(f"{label:<40} {ref:<24} {mib / t_ours:>6.0f} {mib / t_ref:>6.0f} {t_ref / t_ours:>6.2f}   "
              f"{c_ours / gib:>9.2f} {c_ref / gib:>6.2f} {c_ref / c_ours:>6.2f}")
    cores = min(args.jobs, os.cpu_count() or 1, len(archives))
    print(f"\nmd5 with {cores} threads: {t_md5sum[0] / t_verifyn[0] / cores:.2f}x md5sum per core by wall time, "
          f"{t_md5sum[1] / t_verifyn[1]:.2f}x by CPU time")
    print(f"second verify of unchanged archives: {t_again[0] * 1000:.1f} ms (nothing read)")
    print(f"ratio = reference / ours, for wall time and for CPU time (higher is better); best of {args.repeat} "
          "runs each. The CPU ratio is throughput per core: it does not depend on what else runs.")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
