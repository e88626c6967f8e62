"""Workers count matching log lines into a shared counter."""
from multiprocessing import Lock, Process, Value

hits = Value("i", 0)
lock = Lock()


def scan(lines, word):
    for line in lines:
        if word in line:
            with lock:
                hits.value += 1


def main():
    chunks = [["error a", "ok"], ["error b", "error c"], ["ok", "ok"]]
    workers = [Process(target=scan, args=(chunk, "error")) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print("lines with errors:", hits.value)


if __name__ == "__main__":
    main()
