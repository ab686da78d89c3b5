"""What a person sees: training tables (the verbose table), the progress bar, the training-progress figure."""

from minidl.reporting.table import Column, TablePrinter
from minidl.reporting.verbose import VerboseTable

__all__ = ["Column", "TablePrinter", "VerboseTable"]
