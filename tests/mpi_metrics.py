"""Run under `mpiexec -n 2`: FID statistics and class counts summed with allreduce must equal
those of all features in one process (1e-10)."""
import numpy

from inception_score.fid import FIDAccumulator
from inception_score.labels import ClassCounter

try:
    import chainermn
    comm = chainermn.create_communicator('naive')
except ImportError:  # without Chainer: mpi4py's communicator has the same allreduce(obj)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
rng = numpy.random.RandomState(0)
features = rng.normal(0.5, 2.0, (101, 16)).astype(numpy.float32)
logits = rng.normal(0, 3, (101, 1008)).astype(numpy.float32)
# Uneven shares: rank 0 takes 60 rows, rank 1 the other 41.
mine = slice(0, 60) if comm.rank == 0 else slice(60, 101)

fid = FIDAccumulator(16).update(features[mine]).allreduce(comm)
mu, sigma = fid.statistics()
assert fid.n == 101, fid.n
scale = numpy.abs(numpy.cov(features, rowvar=False)).max()
assert numpy.abs(mu - features.astype(numpy.float64).mean(0)).max() <= 1e-10 * scale
assert numpy.abs(sigma - numpy.cov(features.astype(numpy.float64), rowvar=False)).max() \
    <= 1e-10 * scale

counter = ClassCounter().update(logits[mine]).allreduce(comm)
assert numpy.array_equal(counter.counts, numpy.bincount(logits.argmax(1), minlength=1008))
print('rank {} ok'.format(comm.rank), flush=True)
