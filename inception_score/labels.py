"""What the classifier saw: the 1008 output names and a summary of the predicted classes.

The inception-2015-12-05 archive maps output indices to ImageNet synsets in
`imagenet_2012_challenge_label_map_proto.pbtxt` (entries `target_class: N` /
`target_class_string: "nXXXXXXXX"`, N in 1..1000) and synsets to words in
`imagenet_synset_to_human_label_map.txt` (`synset<TAB>words` lines), as TensorFlow's
classify_image.py reads them. Outputs 0 and 1001..1007 have no class.
"""
import re

import numpy

from inception_score.backend import get_array_module, to_numpy
from inception_score.errors import InputError

NUM_CLASSES = 1008
LABEL_MAP_NAME = 'imagenet_2012_challenge_label_map_proto.pbtxt'
SYNSET_WORDS_NAME = 'imagenet_synset_to_human_label_map.txt'

_SYNSET = re.compile(r'n\d{8}')
_ENTRY_START = re.compile(r'entry\s*\{')
_FIELD = re.compile(r'^\s*(\w+)\s*:\s*(.*?)\s*$')


def placeholder_name(index):
    """The name of an output with no ImageNet synset."""
    return 'class {} (no ImageNet synset)'.format(index)


def placeholder_names(num_classes=NUM_CLASSES):
    """Names for a model file made without the archive's label files."""
    return ['class {}'.format(i) for i in range(num_classes)]


def _text(data):
    if isinstance(data, str):
        return data
    # Names are for display: a stray byte should not stop a conversion.
    return bytes(data).decode('utf-8', errors='replace')


def _entries(text):
    """(line number, body) of every `entry { ... }` block, in one pass over the text (the
    label files may be up to the archive reader's cap: time must stay linear in their size);
    anything between the blocks but blanks is an error."""
    position, line = 0, 1
    while True:
        start = _ENTRY_START.search(text, position)
        between = text[position:start.start() if start else len(text)]
        if between.strip():
            raise InputError('{}: unexpected text {!r} outside entry {{ ... }} blocks'.format(
                LABEL_MAP_NAME, between.strip()[:40]))
        if start is None:
            return
        line += text.count('\n', position, start.start())
        end = text.find('}', start.end())
        if end < 0:
            raise InputError('{} line {}: entry {{ is never closed by }}'.format(
                LABEL_MAP_NAME, line))
        yield line, text[start.end():end]
        line += text.count('\n', start.start(), end)
        position = end + 1


def parse_label_map(data, num_classes=NUM_CLASSES):
    """{output index: synset} from the .pbtxt label map (bytes or str)."""
    text = _text(data)
    # Comments end at the line's end; drop them so that braces in them cannot confuse entries.
    text = re.sub(r'#[^\n]*', lambda m: ' ' * len(m.group()), text)
    mapping = {}
    for line, body in _entries(text):
        fields = {}
        for raw in body.split('\n'):
            if not raw.strip():
                continue
            field = _FIELD.match(raw)
            if field is None:
                raise InputError('{} line {}: cannot read {!r} (expected "key: value")'.format(
                    LABEL_MAP_NAME, line, raw.strip()[:60]))
            fields[field.group(1)] = field.group(2)
        try:
            index = int(fields['target_class'])
            synset = fields['target_class_string']
        except KeyError as e:
            raise InputError('{} line {}: entry without {}'.format(
                LABEL_MAP_NAME, line, e.args[0])) from None
        except ValueError:
            raise InputError('{} line {}: target_class {!r} is not an integer'.format(
                LABEL_MAP_NAME, line, fields['target_class'][:40])) from None
        if len(synset) < 2 or synset[0] != '"' or synset[-1] != '"' \
                or not _SYNSET.fullmatch(synset[1:-1]):
            raise InputError('{} line {}: target_class_string {} is not a quoted synset like '
                             '"n01440764"'.format(LABEL_MAP_NAME, line, synset[:40]))
        if not 0 <= index < num_classes:
            raise InputError('{} line {}: target_class {} is outside 0..{}'.format(
                LABEL_MAP_NAME, line, index, num_classes - 1))
        if index in mapping:
            raise InputError('{} line {}: target_class {} appears twice'.format(
                LABEL_MAP_NAME, line, index))
        mapping[index] = synset[1:-1]
    if not mapping:
        raise InputError('{}: no entries found'.format(LABEL_MAP_NAME))
    return mapping


def parse_synset_words(data):
    """{synset: words} from the tab-separated human label map (bytes or str)."""
    words = {}
    for number, raw in enumerate(_text(data).splitlines(), 1):
        if not raw.strip():
            continue
        synset, tab, label = raw.partition('\t')
        synset = synset.strip()
        if not tab or not _SYNSET.fullmatch(synset):
            raise InputError('{} line {}: expected "nXXXXXXXX<TAB>words", got {!r}'.format(
                SYNSET_WORDS_NAME, number, raw[:60]))
        words[synset] = label.strip()
    if not words:
        raise InputError('{}: no synsets found'.format(SYNSET_WORDS_NAME))
    return words


def class_names(label_map, synset_words, num_classes=NUM_CLASSES):
    """The name of every output index, as classify_image.py prints them: the synset's words
    (the synset itself when it has none); outputs without a synset get a placeholder."""
    mapping = parse_label_map(label_map, num_classes)
    words = parse_synset_words(synset_words)
    names = []
    for index in range(num_classes):
        synset = mapping.get(index)
        if synset is None:
            names.append(placeholder_name(index))
        else:
            names.append(words.get(synset) or synset)
    return names


class ClassCounter:
    """Counts of the most probable class (argmax of the logits) over all predictions:
    streaming, mergeable, and summed over ChainerMN processes like the score statistics."""

    def __init__(self, num_classes=NUM_CLASSES):
        self.num_classes = int(num_classes)
        self.counts = numpy.zeros(self.num_classes, numpy.int64)

    def update(self, logits):
        """Add (N, num_classes) logits (numpy or cupy); ties go to the lower index, as argmax."""
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise InputError('logits must be (N, {}), got shape {}'.format(
                self.num_classes, logits.shape))
        xp = get_array_module(logits)
        if not bool(xp.isfinite(logits).all()):
            raise InputError('logits contain NaN or Inf')
        top = to_numpy(logits.argmax(axis=1))
        self.counts += numpy.bincount(top, minlength=self.num_classes)
        return self

    def merge(self, other):
        if other.num_classes != self.num_classes:
            raise InputError('cannot merge class counts of {} and {} classes'.format(
                self.num_classes, other.num_classes))
        self.counts += other.counts
        return self

    def allreduce(self, comm):
        """Sum the counts over all processes of a ChainerMN communicator, in place."""
        total = comm.allreduce(self.counts.astype(numpy.float64))
        self.counts = numpy.rint(numpy.asarray(total, numpy.float64)).astype(numpy.int64)
        return self


def entropy(p):
    """Entropy in nats of a distribution (zeros contribute 0)."""
    p = numpy.asarray(p, numpy.float64)
    p = p[p > 0]
    return float(-(p * numpy.log(p)).sum())


def prediction_summary(class_counts, names, top=10, marginal=None):
    """What the classifier saw, for the JSON report.

    `class_counts`: argmax counts per class (ClassCounter.counts); `names`: one per class.
    Returns the number of predictions, of distinct classes predicted, the `top` classes
    (index, name, count, fraction; ties by lower index), the entropy in nats of the predicted
    classes' distribution, and, when `marginal` (the mean softmax p(y), e.g.
    ScoreAccumulator.marginal()) is given, the entropy of that marginal.
    """
    counts = numpy.asarray(class_counts, numpy.int64)
    if counts.ndim != 1 or len(counts) != len(names):
        raise InputError('{} class counts for {} names'.format(counts.size, len(names)))
    total = int(counts.sum())
    if total == 0:
        raise InputError('no predictions were counted')
    order = numpy.lexsort((numpy.arange(len(counts)), -counts))
    top_classes = [{'index': int(i), 'name': names[i], 'count': int(counts[i]),
                    'fraction': float(counts[i] / total)}
                   for i in order[:top] if counts[i] > 0]
    summary = {
        'predictions': total,
        'distinct_classes': int((counts > 0).sum()),
        'top_classes': top_classes,
        'predicted_class_entropy_nats': entropy(counts / total),
    }
    if marginal is not None:
        marginal = numpy.asarray(marginal, numpy.float64)
        if marginal.shape != counts.shape:
            raise InputError('the marginal has shape {}, expected ({},)'.format(
                marginal.shape, len(counts)))
        summary['marginal_entropy_nats'] = entropy(marginal)
    return summary
