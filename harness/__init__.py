"""crash-matrix: measure what each Redis persistence config loses when the server crashes."""

__version__ = "0.1.0"
