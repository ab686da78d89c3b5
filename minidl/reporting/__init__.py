"""What a person sees: the table printer, the progress bar, the training-progress figure (the dialects configure
them: MATLAB's verbose table is :mod:`minidl.matlab.verbose`, Wolfram's "Print" report :mod:`minidl.wolfram.observers`).
"""

from minidl.reporting.table import Column, TablePrinter

__all__ = ["Column", "TablePrinter"]
