"""Shrink a batch of greyscale images on a pool of worker processes.

Written when Linux forked its workers: the worker set-up is a function nested
inside `shrink_all`. A forked child inherits it; a spawned or forkserver child
(Python 3.14's default) has to unpickle it by name and cannot find it.
"""
import multiprocessing as mp

_factor = 1


def shrink(image):
    name, rows = image
    step = _factor
    small = [
        [sum(rows[y + dy][x + dx] for dy in range(step) for dx in range(step)) // (step * step)
         for x in range(0, len(rows[0]), step)]
        for y in range(0, len(rows), step)
    ]
    return name, small


def shrink_all(images, factor):
    def init_worker(value):
        global _factor
        _factor = value

    with mp.Pool(2, initializer=init_worker, initargs=(factor,)) as pool:
        return pool.map(shrink, images)


def demo_images():
    return [(f"img{i}", [[(x * y * 16 + i) % 256 for x in range(4)] for y in range(4)])
            for i in range(3)]


if __name__ == "__main__":
    for name, small in shrink_all(demo_images(), 2):
        print(name, small)
