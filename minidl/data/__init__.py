"""Package data: ``digits.npz``, the embedded synthetic digits, and ``sequences.npz``, the embedded sequence data
sets (see :mod:`minidl.datasets`, ``tools/make_digit_data.py`` and ``tools/make_sequence_data.py``, which write
them)."""
