"""User-facing errors: the CLI prints these as one clear message, never a traceback."""

from __future__ import annotations

import errno
import os

NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})  # full, over quota/limit, read-only
NOT_ALLOWED = frozenset({errno.EACCES, errno.EPERM})


class AnnBenchError(Exception):
    """A problem the user can fix (bad input, missing file, failed download).

    The message must name the bad thing and say what to do about it.
    """


class ConfigError(AnnBenchError):
    """A configuration value is missing, misspelt or of the wrong type."""


class DataError(AnnBenchError):
    """A data file is missing, corrupt or not in the expected format."""


def write_error(path, exc: OSError) -> DataError:
    """The one line for a file that could not be written: a full or read-only disk, a quota or
    file-size limit, a folder without permission."""
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    return DataError(f"could not write {path} ({why}); free space or make its folder writable and rerun: "
                     "finished files are kept, nothing half-written is.")
