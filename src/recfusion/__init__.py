"""recfusion: multi-strategy recommendation with fusion, benchmarking and serving."""

__version__ = "0.1.0"
