"""What a person sees: the verbose table, the progress bar, the training-progress figure."""

from minidl.reporting.verbose import VerboseTable

__all__ = ["VerboseTable"]
