"""Source: bytes in, typed rows out. Inputs (files, globs, stdin, compressed), reading a file
from its checkpoint, follow mode through rotation, the log formats, and parsing with every reject
counted by reason.

May import: core.
"""
