"""Each worker renders a large report and hands it back through a queue."""
from multiprocessing import Process, Queue


def render(queue, n):
    queue.put(str(n) * 200_000)


def main():
    queue = Queue()
    workers = [Process(target=render, args=(queue, n)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    reports = [queue.get() for _ in workers]
    print("report sizes:", sorted(len(r) for r in reports))


if __name__ == "__main__":
    main()
