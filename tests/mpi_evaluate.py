"""Run under `mpiexec -n 2`: one distributed evaluation (each process scores its shard of the
images and of the reference) must give every process the numbers of a single process."""
import sys

import chainermn
import numpy

from inception_score import load_network
from inception_score.scoring import evaluate_images

comm = chainermn.create_communicator('naive')
network = load_network(sys.argv[1])
rng = numpy.random.RandomState(0)
ims = rng.randint(0, 256, (9, 3, 24, 24)).astype(numpy.uint8)
reference = rng.randint(0, 256, (7, 3, 20, 28)).astype(numpy.uint8)
# batch_size=1: each image's features are computed alone, whichever process has it.
kwargs = dict(reference=reference, metrics=('precision_recall',), batch_size=1, splits=3,
              statistics=True)
dist = evaluate_images(network, ims, comm=comm, **kwargs)
if comm.rank == 0:
    single = evaluate_images(network, ims, **kwargs)
    assert numpy.allclose(dist['split_scores'], single['split_scores'], rtol=1e-10, atol=0)
    assert dist['predictions'] == single['predictions'], (dist['predictions'],
                                                          single['predictions'])
    assert (dist['precision'], dist['recall']) == (single['precision'], single['recall'])
    for key in ('mu', 'sigma'):
        a, b = dist['statistics'][key], single['statistics'][key]
        assert numpy.abs(a - b).max() <= 1e-10 * numpy.abs(b).max(), key
    assert dist['reference']['images'] == 7
results = comm.gather_obj((dist['precision'], dist['recall'], dist['split_scores']))
if comm.rank == 0:
    assert all(r == results[0] for r in results), results  # every rank has the numbers
print('rank {} ok {} {}'.format(comm.rank, dist['precision'], dist['recall']), flush=True)
