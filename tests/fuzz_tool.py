"""Seeded mutations of one artifact, each fed to the real command line in a child forked from
this process (TensorFlow is imported once, before the forks, as a fresh process would import
it). Prints one JSON line per mutation: what the command returned, what it printed on stderr,
how long it took, its peak RSS, and whether the outcome equals the original's.

KIND and what is mutated, and through which command:
- pb, tgz: the graph or its archive, `inception-score-download --graph` (same: the weights);
- model: a model file, `inception-score IMAGES --model` (same: the weights);
- stats: TTUR statistics, `inception-score IMAGES --fid STATS` (same: what it prints);
- admref: an ADM reference batch, `inception-score IMAGES --adm REF` (same: what it prints);
- labels: the label files inside the graph's archive (ARTIFACT is the bare .pb; the archive is
  rebuilt around the mutated files), `inception-score-download --graph` (same: the weights).

    python tests/fuzz_tool.py KIND ARTIFACT ORIGINAL_MODEL IMAGES_FOLDER COUNT SEED
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
    return code, out.getvalue(), err.getvalue(), time.time() - start


def one(kind, path, images, out, reference):
    """Run the command on one artifact (in a forked child) and describe the outcome;
    `reference` is the original's weights digest, or its output on stdout."""
    from inception_score import cli, load_arrays
    from inception_score.modelfile import arrays_digest
    if kind in ('stats', 'admref'):
        flags = (['--fid', path, '--splits', '1'] if kind == 'stats'
                 else ['--adm', path, '--split-size', '1'])
        code, stdout, err, took = run(cli.score_main, [images, '--model', out, '--quiet']
                                      + flags)
        same = stdout == reference if code == 0 else None
    else:
        if kind == 'model':
            code, stdout, err, took = run(cli.score_main, [images, '--model', path, '--splits',
                                                           '1', '--quiet'])
            result = path
        else:
            code, stdout, err, took = run(cli.download_main,
                                          ['--graph', path, '--outfile', out, '--quiet'])
            result = out
        same = arrays_digest(load_arrays(result)) == reference if code == 0 else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {'code': code, 'stdout': stdout, 'stderr': err, 'seconds': round(took, 2),
            'peak_rss_mb': peak, 'same': same}


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


def _forked(function):
    """function() in a forked child, its JSON-able result back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its peak RSS is the command's, plus what was imported
        os.close(read)
        os.write(write, json.dumps(function()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(text) if text else {'code': 'child died', 'status': status}


def main():
    kind, artifact, original, images, count, seed = sys.argv[1:7]
    from inception_score import load_arrays
    from inception_score.modelfile import arrays_digest
    if kind in ('pb', 'tgz', 'labels'):
        from inception_score.convert import _tf
        _tf()  # imported once here, as every fresh command would import it
    rng = numpy.random.RandomState(int(seed))
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as work:
        out = os.path.join(d, 'out.model')
        if kind in ('stats', 'admref'):
            # What the original prints, from a child too: this process stays small.
            first = _forked(lambda: one(kind, artifact, images, original, None))
            if first['code'] != 0:
                sys.exit('fuzz_tool: the original {} fails: {}'.format(artifact, first))
            reference, out = first['stdout'], original  # the model the images are scored with
        else:
            reference = arrays_digest(load_arrays(original))
        archives = LabelArchives(artifact, work) if kind == 'labels' else None
        structure = zip_structure(artifact) if kind in ('stats', 'admref') else None
        for i in range(int(count)):
            if kind == 'labels':
                path = os.path.join(d, 'inception-2015-12-05.tgz')
                how = archives.build(path, rng)
            else:
                path = os.path.join(d, os.path.basename(artifact))
                how = mutate(artifact, path, rng, structure)
            result = _forked(lambda: one(kind, path, images, out, reference))
            for leftover in os.listdir(d):
                os.remove(os.path.join(d, leftover))
            result.update(i=i, how=how)
            print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
