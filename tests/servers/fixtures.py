"""pytest fixtures: the sample archives served over real loopback HTTP and FTP.

Import them into a test module (``from servers.fixtures import http_mirror, ftp_mirror``).
Each test gets fresh servers (faults and request logs start empty).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sen12ms_plugins.demo.sample import MANIFEST_NAME
from tests.helpers import read_manifest

from .ftp_server import FtpTestServer
from .http_server import FaultyHTTPServer


@pytest.fixture
def http_mirror(sample_archives: Path):
    with FaultyHTTPServer(sample_archives) as server:
        yield server


@pytest.fixture
def ftp_mirror(sample_archives: Path):
    with FtpTestServer(sample_archives) as server:
        yield server


@pytest.fixture(scope="session")
def sample_md5s(sample_archives: Path) -> dict[str, str]:
    return read_manifest(sample_archives / MANIFEST_NAME)
