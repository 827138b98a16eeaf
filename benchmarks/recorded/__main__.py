import sys

from benchmarks.recorded import record

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m benchmarks.recorded RESULTS.json [MORE-RESULTS.json ...]")
    print(record(sys.argv[1:]))
