// python-element.click -- a router that uses an element written in Python.
//
// size_histogram.py (next to this file) defines SizeHistogram, a Python
// subclass of clickpy.Element. It runs in the same graph as the Cython
// elements around it, on the slow path.
//
// Run from this folder:
//   clickpy run python-element.click -h hist.histogram
// prints how many of the 3000 packets fell in each 64-byte length class.

require(package "size_histogram.py");

define($N 1000);

src1 :: InfiniteSource(LENGTH 60, LIMIT $N);
src2 :: InfiniteSource(LENGTH 300, LIMIT $N);
src3 :: InfiniteSource(LENGTH 1400, LIMIT $N, STOP true);

src1, src2, src3 -> hist :: SizeHistogram(64) -> c :: Counter -> Discard;
