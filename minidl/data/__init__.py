"""Package data: ``digits.npz``, the embedded synthetic digits (see :mod:`minidl.datasets` and
``tools/make_digit_data.py``, which writes it)."""
