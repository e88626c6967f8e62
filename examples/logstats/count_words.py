"""Count words in generated log lines with a process pool.

Written in the fork era: the pool is created at import time and the
workers read a module-level setting that the parent changes first.
"""
import multiprocessing as mp
import sys

LOWERCASE = False


def count(line):
    words = line.split()
    if LOWERCASE:
        words = [w.lower() for w in words]
    return len(set(words))


LOWERCASE = "--lower" in sys.argv
lines = [f"Error error ERROR line {i}" for i in range(8)]
with mp.Pool(2) as pool:
    totals = pool.map(count, lines)
print("distinct words per line:", totals)
