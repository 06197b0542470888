"""Real servers on 127.0.0.1 for the download tests (and for anyone testing against a mirror)."""

from .ftp_server import FtpTestServer
from .http_server import FaultyHTTPServer

__all__ = ["FaultyHTTPServer", "FtpTestServer"]
