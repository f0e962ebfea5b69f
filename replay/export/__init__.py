"""Carrying recordings to other machines: trimmed trace files and the CI artifact.

Copying recordings from one run or several into one trace file within a byte budget, and
the bundle a red CI build leaves behind: a viewer per failed test, an index, and the
trimmed trace files with the passing recordings they are compared with.
"""
