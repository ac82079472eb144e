"""Seeded mutations of one artifact (a graph .pb, its .tgz, a model file, or a CIFAR-10 archive
in the python or binary layout), each fed to the real command line in a child forked from this
process (TensorFlow is imported once, before the forks, as a fresh process would import it).
Prints one JSON line per mutation: what the command returned, what it printed on stderr, how
long it took, its peak RSS, and whether the converted/loaded weights (for a CIFAR-10 archive:
the score line example.py printed) equal the original's.

    python tests/fuzz_tool.py KIND ARTIFACT ORIGINAL_MODEL IMAGES_FOLDER COUNT SEED

KIND: pb, tgz, model, cifar-python or cifar-binary (IMAGES_FOLDER is unused for the last two:
example.py scores the archive's first 2 training images in 1 split).
"""
import contextlib
import gzip
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy


def mutate(source, dest, rng):
    """Copy `source` to `dest` with byte flips (anywhere, or in the first 2% where the
    structure lives), a truncation or inserted garbage. Edits the copy on disk, so that this
    process holds no copy of the artifact and its peak RSS is the command's own."""
    size = os.path.getsize(source)
    kind = rng.randint(4)
    if kind == 3:
        pos = rng.randint(0, size)
        garbage = rng.randint(0, 256, rng.randint(1, 100)).astype(numpy.uint8).tobytes()
        with open(source, 'rb') as src, open(dest, 'wb') as out:
            out.write(src.read(pos))
            out.write(garbage)
            shutil.copyfileobj(src, out, 1 << 20)
        return 'insert'
    shutil.copyfile(source, dest)
    if kind == 2:
        os.truncate(dest, rng.randint(0, size))
        return 'truncate'
    end = size if kind == 0 else max(64, size // 50)
    with open(dest, 'r+b') as f:
        for pos in rng.randint(0, end, rng.randint(1, 5)):
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ (1 << rng.randint(8))]))
    return 'flip' if kind == 0 else 'flip-structure'


def mutate_tar(source, dest, rng):
    """A .tar.gz with its tar mutated (as `mutate`) and compressed again: the gzip checks pass,
    so the archive's own checks (tar headers, batch sizes, pickles, labels) are reached."""
    inner, mutated = dest + '.tar', dest + '.mutated.tar'
    with gzip.open(source, 'rb') as f, open(inner, 'wb') as out:
        shutil.copyfileobj(f, out)
    how = mutate(inner, mutated, rng)
    with open(mutated, 'rb') as f, gzip.open(dest, 'wb', compresslevel=1) as out:
        shutil.copyfileobj(f, out)
    os.remove(inner)
    os.remove(mutated)
    return 'tar-' + how


def run(main, argv):
    err, out = io.StringIO(), io.StringIO()
    start = time.time()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
        except BaseException as e:  # noqa: B902 - anything escaping the CLI is the finding
            code, err = 'escaped', io.StringIO('{}: {}'.format(type(e).__name__, e))
    run.stdout = out.getvalue()
    return code, err.getvalue(), time.time() - start


def score_cifar(path, model):
    """example.py on a CIFAR-10 copy, as a user runs it: (code, stderr, seconds, stdout)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import example
    code, err, took = run(example.cli_main, ['--model', model, '--data', path, '--samples',
                                             '2', '--splits', '1', '--quiet', '--no-download'])
    return code, err, took, run.stdout


def one(kind, path, images, out, reference, model=None):
    """Run the command on one mutated artifact (in a forked child) and describe the outcome;
    `model` scores a CIFAR-10 archive."""
    from inception_score import cli, load_arrays
    from inception_score.modelfile import arrays_digest
    if kind.startswith('cifar'):
        code, err, took, printed = score_cifar(path, model)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {'code': code, 'stderr': err, 'seconds': round(took, 2), 'peak_rss_mb': peak,
                'same': printed == reference if code == 0 else None}
    if kind == 'model':
        code, err, took = run(cli.score_main, [images, '--model', path, '--splits', '1',
                                               '--quiet'])
        result = path
    else:
        code, err, took = run(cli.download_main, ['--graph', path, '--outfile', out, '--quiet'])
        result = out
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    same = arrays_digest(load_arrays(result)) == reference if code == 0 else None
    return {'code': code, 'stderr': err, 'seconds': round(took, 2), 'peak_rss_mb': peak,
            'same': same}


def main():
    kind, artifact, original, images, count, seed = sys.argv[1:7]
    from inception_score import load_arrays
    from inception_score.modelfile import arrays_digest
    if kind.startswith('cifar'):
        # The original's score line, from a forked child as every mutation's.
        code, err, _, reference = forked(lambda: score_cifar(artifact, original))
        assert code == 0, err
    else:
        if kind != 'model':
            from inception_score.convert import _tf
            _tf()  # imported once here, as every fresh command would import it
        reference = arrays_digest(load_arrays(original))
    rng = numpy.random.RandomState(int(seed))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'out.model')
        for i in range(int(count)):
            path = os.path.join(d, os.path.basename(artifact))
            # A CIFAR-10 archive: every other mutation inside its tar, the rest of the gzip file.
            how = (mutate_tar if kind.startswith('cifar') and i % 2 else mutate)(
                artifact, path, rng)
            result = forked(lambda: one(kind, path, images, out, reference, model=original))
            for leftover in os.listdir(d):
                os.remove(os.path.join(d, leftover))
            result.update(i=i, how=how)
            print(json.dumps(result), flush=True)


def forked(function):
    """function() in a forked child (its peak RSS is the command's, plus what was imported
    here), its JSON-able result sent back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.write(write, json.dumps(function()).encode())
        finally:
            os._exit(0)  # never back into the caller's loop
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(text) if text else {'code': 'child died', 'status': status}


if __name__ == '__main__':
    main()
