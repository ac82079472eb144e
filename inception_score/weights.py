"""Graph -> model file: obtain the TF graph (fetch.py), convert it (convert.py), save it
(modelfile.py). No Chainer needed; TensorFlow only for parsing the GraphDef."""
import datetime
import os

from inception_score import fetch, files, modelfile

CONVERTER_VERSION = '2'
# The model file is built in memory and written at once: leave room for it before converting.
_MODEL_BYTES = 100 << 20


def build_model_file(outfile, url=fetch.DEFAULT_URL, graph=None, sha256=None, progress=True,
                     log=print, warn=None, fallback_url=None):
    """Obtain (download or read `graph`), check, convert and save the model; return its metadata.

    Paths are decided first: `outfile` may not be `graph` (nor a link to it). Class names
    from the archive's label files are stored with the weights (index placeholders without them).
    A graph other than the released one converts with one warning through `warn` (default: an
    InputWarning, which the command line prints as `prog: warning: ...`).
    `fallback_url` defaults to the bare released graph when `url` is the default archive.
    """
    from inception_score.convert import convert_graph_def, parse_graph_def
    from inception_score.labels import class_names, placeholder_names

    if warn is None:
        from inception_score.checks import warn
    files.check_outputs({'--outfile': outfile}, {'--graph': graph})
    if fallback_url is None and url == fetch.DEFAULT_URL:
        fallback_url = fetch.FALLBACK_URL
    info = fetch.obtain_graph(url=url, graph=graph, sha256=sha256, fallback_url=fallback_url,
                              progress=progress, log=log)
    files.check_free_space(os.path.dirname(os.path.abspath(outfile)),
                           _MODEL_BYTES, 'the model file')
    # The label files are read before the conversion: a bad one fails in a moment.
    labels = info['labels']
    if all(name in labels for name in fetch.LABEL_MEMBERS):
        names = class_names(*(labels[name] for name in fetch.LABEL_MEMBERS))
    else:
        names = placeholder_names()
    log('Converting {} ({:.1f} MB)'.format(fetch.GRAPH_MEMBER, len(info['graph']) / 1e6))
    # Each 95 MB form is dropped as soon as the next exists: peak memory stays under 1 GB.
    graph_def = parse_graph_def(info.pop('graph'))
    arrays = convert_graph_def(graph_def)
    del graph_def
    warning = fetch.unreleased_graph_warning(info['graph_sha256'], info['source'])
    if warning:  # after the checks, so that a failure stays one line
        warn(warning)
    metadata = {
        'inception_score_converter_version': CONVERTER_VERSION,
        'source': info['source'],
        'source_sha256': info['source_sha256'],
        'graph_sha256': info['graph_sha256'],
        'released_graph': bool(info['released_graph']),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    modelfile.save_arrays(outfile, arrays, metadata, class_names=names)
    log('Saved {}'.format(outfile))
    return metadata


__all__ = ['CONVERTER_VERSION', 'build_model_file']
