"""A background heartbeat that the parent kills when it is done.

It shares no queue, lock or value with the parent, so terminate() cannot leave anything
broken behind: mpfix leaves it as it is."""
import multiprocessing
import time


def beat(interval):
    while True:
        time.sleep(interval)


if __name__ == "__main__":
    monitor = multiprocessing.Process(target=beat, args=(0.05,))
    monitor.start()
    time.sleep(0.2)
    monitor.terminate()
    monitor.join()
    print("monitor exit code:", monitor.exitcode)
