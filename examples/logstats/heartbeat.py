"""A background heartbeat that the parent kills when it is done."""
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
