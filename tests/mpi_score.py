"""Run under `mpiexec -n 2`: distributed scores must equal single-process ones (1e-10), for
the same images on every process and for each process's own part (sharded=True, 17 + 24)."""
import sys

import chainermn
import numpy

from inception_score import (InputError, Network, inception_score,
                             inception_score_from_generator, load_model)

comm = chainermn.create_communicator('naive')


def _abort_all(kind, value, tb):
    # A failed check on one process must end all of them, not leave the others waiting.
    sys.__excepthook__(kind, value, tb)
    sys.stderr.flush()
    comm.mpi_comm.Abort(1)


sys.excepthook = _abort_all
model = load_model(sys.argv[1])


class OncePerImage(Network):
    """The single-process reference, computing each image's logits once: every reference score
    below runs at batch_size=1, where an image's logits do not depend on the batch it is in,
    so its cases (40, 41, 1 images, shuffled, sharded) share one forward pass per image."""

    def __init__(self, network):
        self.__dict__.update(network.__dict__)
        self.memo = {}

    def forward(self, x, nodes=('logits',)):
        assert len(x) == 1, 'the reference scores run at batch_size=1'
        key = (x.dtype.str, x.shape, x.tobytes(), tuple(nodes))
        if key not in self.memo:
            self.memo[key] = super().forward(x, nodes)
        return self.memo[key]


reference = OncePerImage(model.network())
rng = numpy.random.RandomState(0)
ims = rng.randint(0, 256, (41, 3, 32, 32)).astype(numpy.uint8)
checked = []


def same(a, b):
    return numpy.allclose(a, b, rtol=1e-10, atol=0)


for n, splits in ((40, 10), (41, 10), (1, 1)):  # even, uneven, a rank with no image
    # batch_size=1: every image's logits are computed alone, whichever process has it.
    dist = inception_score(model, ims[:n], batch_size=1, splits=splits, comm=comm)
    if comm.rank == 0:
        single = inception_score(reference, ims[:n], batch_size=1, splits=splits)
        assert same(dist, single), (n, dist, single)
    results = comm.gather_obj(dist)
    if comm.rank == 0:
        assert all(r == dist for r in results), results  # every rank has the result
    checked.append(str(n))

# Generators: rank r draws its share with seed + r; equal to scoring those draws in order.
def generator(k):
    return numpy.random.uniform(-1, 1, (k, 3, 16, 16)).astype(numpy.float32)


dist = inception_score_from_generator(generator, model, 6, batch_size=1, splits=2, comm=comm,
                                      seed=3)
mine = numpy.random.RandomState(3 + comm.rank).uniform(-1, 1, (3, 3, 16, 16)).astype(
    numpy.float32)
gathered = comm.gather_obj(mine)  # every rank must take part
if comm.rank == 0:
    single = inception_score(reference, numpy.concatenate(gathered), batch_size=1, splits=2,
                             value_range=(-1, 1))
    assert same(dist, single), (dist, single)
checked.append('gen')

# Each process holds its own part (as scatter_dataset gives it): 17 + 24 images.
mine = ims[:17] if comm.rank == 0 else ims[17:]
dist = inception_score(model, mine, batch_size=1, splits=10, comm=comm, sharded=True)
if comm.rank == 0:
    single = inception_score(reference, ims, batch_size=1, splits=10)
    assert numpy.allclose(dist, single, rtol=1e-10, atol=0), (dist, single)
results = comm.gather_obj(dist)
if comm.rank == 0:
    assert all(r == dist for r in results), results
shuffled = inception_score(model, mine, batch_size=1, splits=10, comm=comm, sharded=True,
                           shuffle=True, seed=4)
if comm.rank == 0:
    single = inception_score(reference, ims, batch_size=1, splits=10, shuffle=True, seed=4)
    assert numpy.allclose(shuffled, single, rtol=1e-10, atol=0), (shuffled, single)
# A process may hold no part at all (more processes than images).
part = ims[:3] if comm.rank == 0 else ims[:0]
dist = inception_score(model, part, batch_size=1, splits=1, comm=comm, sharded=True)
if comm.rank == 0:
    single = inception_score(reference, ims[:3], batch_size=1, splits=1)
    assert numpy.allclose(dist, single, rtol=1e-10, atol=0), (dist, single)
checked.append('sharded')

# The same parts without sharded=True: one line saying what to pass, on every process.
try:
    inception_score(model, mine, batch_size=5, splits=10, comm=comm)
except InputError as e:
    message = str(e)
else:
    message = None
expected = ('the processes passed different numbers of images (17, 24): if each passes its '
            'own part (as scatter_dataset gives), pass sharded=True; otherwise pass the same '
            'images on every process')
assert message == expected, message
# Equal lengths but different images (scatter_dataset's force_equal_length), and a process
# whose part is refused: every process raises, none waits forever.
try:
    inception_score(model, ims[:20] if comm.rank == 0 else ims[20:40], batch_size=5, comm=comm)
except InputError as e:
    assert 'passed different images (20 each)' in str(e), str(e)
else:
    raise AssertionError('different images of equal length were scored')
bad = ims[17:].astype(numpy.float32)
if comm.rank == 1:
    bad[0, 0, 0, 0] = numpy.nan
try:
    inception_score(model, mine if comm.rank == 0 else bad, comm=comm, sharded=True)
except InputError as e:
    assert ('contain NaN' in str(e)) == (comm.rank == 1), str(e)
    assert comm.rank == 1 or str(e).startswith('process 1 refused its images'), str(e)
else:
    raise AssertionError('a part with NaN was scored')
checked.append('hint')
# One process prints for all: lines of two processes can interleave in mpiexec's output.
everyone = comm.gather_obj(' '.join(checked))
if comm.rank == 0:
    print('\n'.join('rank {} ok {}'.format(r, done) for r, done in enumerate(everyone)),
          flush=True)
