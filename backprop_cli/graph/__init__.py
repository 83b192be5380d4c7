"""Computational-graph specs → GraphTrace: parser, symbolic calculus, solver."""
