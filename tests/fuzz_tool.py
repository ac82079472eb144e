"""Seeded mutations of one artifact, each fed to the real command line in a child forked from
this process (TensorFlow is imported once, before the forks, as a fresh process would import
it). Prints one JSON line per mutation: what the command returned, what it printed on stderr,
how long it took, its peak RSS, and whether the outcome equals the original's.

    python tests/fuzz_tool.py KIND ARTIFACT ORIGINAL_MODEL IMAGES_FOLDER COUNT SEED

KIND, what is mutated, and through which command:
- pb, tgz: the graph or its archive, `inception-score-download --graph` (same: the weights);
- model: a model file, `inception-score IMAGES --model` (same: the weights);
- cifar-python, cifar-binary: a CIFAR-10 archive, example.py on its first 2 training images in
  1 split (same: the score line; IMAGES_FOLDER is unused);
- stats: TTUR statistics, `inception-score IMAGES --fid STATS` (same: what it prints);
- admref: an ADM reference batch, `inception-score IMAGES --adm REF` (same: what it prints);
- labels: the label files inside the graph's archive (ARTIFACT is the bare .pb; the archive is
  rebuilt around the mutated files), `inception-score-download --graph` (same: the weights).
"""
import contextlib
import gzip
import io
import json
import os
import resource
import shutil
import sys
import tarfile
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def zip_structure(path):
    """The byte ranges of a zip's structure: each member's local header with the start of its
    data (a .npy header), and the central directory to the end."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        ranges = [(i.header_offset, i.header_offset + 30 + len(i.filename) + 256)
                  for i in z.infolist()]
        ranges.append((z.start_dir, os.path.getsize(path)))
    return ranges


def mutate(source, dest, rng, structure=None):
    """Copy `source` to `dest` with byte flips (anywhere, in the first 2% where the structure
    of graphs and model files lives, or in the `structure` byte ranges given), a truncation or
    inserted garbage. Edits the copy on disk, so that this process holds no copy of the
    artifact and its peak RSS is the command's own."""
    size = os.path.getsize(source)
    kind = rng.randint(5 if structure else 4)
    if kind == 4:
        shutil.copyfile(source, dest)
        with open(dest, 'r+b') as f:
            for _ in range(rng.randint(1, 4)):
                start, stop = structure[rng.randint(len(structure))]
                pos = rng.randint(start, min(stop, size))
                f.seek(pos)
                byte = f.read(1)[0]
                f.seek(pos)
                f.write(bytes([byte ^ (1 << rng.randint(8))]))
        return 'flip-zip-structure'
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
    `model` scores a CIFAR-10 archive, or the images against a mutated reference."""
    from inception_score import cli, load_arrays
    from inception_score.modelfile import arrays_digest
    if kind.startswith('cifar'):
        code, err, took, printed = score_cifar(path, model)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {'code': code, 'stderr': err, 'seconds': round(took, 2), 'peak_rss_mb': peak,
                'same': printed == reference if code == 0 else None}
    if kind in ('stats', 'admref'):
        flags = (['--fid', path, '--splits', '1'] if kind == 'stats'
                 else ['--adm', path, '--split-size', '1'])
        code, err, took = run(cli.score_main, [images, '--model', model, '--quiet'] + flags)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {'code': code, 'stdout': run.stdout, 'stderr': err, 'seconds': round(took, 2),
                'peak_rss_mb': peak, 'same': run.stdout == reference if code == 0 else None}
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


def _tar_member(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info.tobuf() + data + bytes(-len(data) % tarfile.BLOCKSIZE)


class LabelArchives:
    """inception-2015-12-05.tgz rebuilt around (mutated) label files: the graph's part is
    gzip-compressed once, and each archive is that gzip member followed by one holding the
    label files and the end of the tar stream (a gzip file may hold several members; the
    command reads them as one stream)."""

    def __init__(self, pb, folder):
        import label_files
        from inception_score.labels import LABEL_MAP_NAME, SYNSET_WORDS_NAME
        label_map, words, _, _ = label_files.synthetic_labels()
        self.labels = {LABEL_MAP_NAME: label_map, SYNSET_WORDS_NAME: words}
        self.folder = folder
        self.graph_part = os.path.join(folder, 'graph.gz')
        info = tarfile.TarInfo('classify_image_graph_def.pb')
        info.size = os.path.getsize(pb)
        with open(pb, 'rb') as src, gzip.open(self.graph_part, 'wb', compresslevel=1) as gz:
            gz.write(info.tobuf())
            shutil.copyfileobj(src, gz, 1 << 20)
            gz.write(bytes(-info.size % tarfile.BLOCKSIZE))

    def build(self, path, rng):
        """Write the archive at `path` with one label file mutated; returns how."""
        from inception_score.labels import LABEL_MAP_NAME, SYNSET_WORDS_NAME
        # Mostly the label map: its structure is what the parser has to survive; a changed
        # word passes and costs a whole conversion.
        name = LABEL_MAP_NAME if rng.randint(4) else SYNSET_WORDS_NAME
        original = os.path.join(self.folder, 'label.orig')
        mutated = os.path.join(self.folder, 'label.mutated')
        with open(original, 'wb') as f:
            f.write(self.labels[name])
        how = mutate(original, mutated, rng)
        with open(mutated, 'rb') as f:
            data = f.read()
        for leftover in (original, mutated):
            os.remove(leftover)
        self.write(path, dict(self.labels, **{name: data}))
        return '{} {}'.format(how, name)

    def write(self, path, labels):
        """Write the archive at `path` with the label files `labels` ({name: bytes})."""
        tail = b''.join(_tar_member(n, labels[n]) for n in sorted(labels))
        tail += _tar_member('LICENSE', b'synthetic test archive\n') + bytes(1024)
        with open(path, 'wb') as out, open(self.graph_part, 'rb') as head:
            shutil.copyfileobj(head, out, 1 << 20)
            out.write(gzip.compress(tail, compresslevel=1))


def main():
    kind, artifact, original, images, count, seed = sys.argv[1:7]
    from inception_score import load_arrays
    from inception_score.modelfile import arrays_digest
    if kind.startswith('cifar'):
        # The original's score line, from a forked child as every mutation's.
        code, err, _, reference = forked(lambda: score_cifar(artifact, original))
        assert code == 0, err
    elif kind in ('stats', 'admref'):
        # What the original prints, from a child too: this process stays small.
        first = forked(lambda: one(kind, artifact, images, None, None, model=original))
        if first['code'] != 0:
            sys.exit('fuzz_tool: the original {} fails: {}'.format(artifact, first))
        reference = first['stdout']
    else:
        if kind != 'model':
            from inception_score.convert import _tf
            _tf()  # imported once here, as every fresh command would import it
        reference = arrays_digest(load_arrays(original))
    rng = numpy.random.RandomState(int(seed))
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as work:
        out = os.path.join(d, 'out.model')
        archives = LabelArchives(artifact, work) if kind == 'labels' else None
        structure = zip_structure(artifact) if kind in ('stats', 'admref') else None
        for i in range(int(count)):
            if kind == 'labels':
                path = os.path.join(d, 'inception-2015-12-05.tgz')
                how = archives.build(path, rng)
            else:
                path = os.path.join(d, os.path.basename(artifact))
                # A CIFAR-10 archive: every other mutation inside its tar, the rest of the
                # gzip file.
                how = (mutate_tar(artifact, path, rng) if kind.startswith('cifar') and i % 2
                       else mutate(artifact, path, rng, structure))
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
