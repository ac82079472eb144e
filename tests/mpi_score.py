"""Run under `mpiexec -n 2`: distributed scores must equal single-process ones (1e-10)."""
import sys

import chainermn
import numpy

from inception_score import (inception_score, inception_score_from_generator, load_model)

comm = chainermn.create_communicator('naive')
model = load_model(sys.argv[1])
rng = numpy.random.RandomState(0)
ims = rng.randint(0, 256, (41, 3, 32, 32)).astype(numpy.uint8)
checked = []


def same(a, b):
    return numpy.allclose(a, b, rtol=1e-10, atol=0)


for n, splits in ((40, 10), (41, 10), (1, 1)):  # even, uneven, a rank with no image
    # batch_size=1: every image's logits are computed alone, whichever process has it.
    dist = inception_score(model, ims[:n], batch_size=1, splits=splits, comm=comm)
    if comm.rank == 0:
        single = inception_score(model, ims[:n], batch_size=1, splits=splits)
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
    single = inception_score(model, numpy.concatenate(gathered), batch_size=1, splits=2,
                             value_range=(-1, 1))
    assert same(dist, single), (dist, single)
print('rank {} ok {} gen'.format(comm.rank, ' '.join(checked)), flush=True)
