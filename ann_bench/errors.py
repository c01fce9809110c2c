"""User-facing errors: the CLI prints these as one clear message, never a traceback."""


class AnnBenchError(Exception):
    """A problem the user can fix (bad input, missing file, failed download).

    The message must name the bad thing and say what to do about it.
    """


class ConfigError(AnnBenchError):
    """A configuration value is missing, misspelt or of the wrong type."""


class DataError(AnnBenchError):
    """A data file is missing, corrupt or not in the expected format."""
