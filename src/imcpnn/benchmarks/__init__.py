"""Accuracy and speed measurements of the solvers (DSTD against exact)."""
