"""Label files in the formats of the inception-2015-12-05 archive, for tests.

`imagenet_2012_challenge_label_map_proto.pbtxt` maps output indices 1..1000 to synsets (not in
synset order: the real file starts with target_class 449 for n01440764);
`imagenet_synset_to_human_label_map.txt` maps synsets to words, one tab-separated line each,
with many more synsets than the 1000 used.
"""
import numpy


def synthetic_labels(seed=0):
    """(label map bytes, synset words bytes, {index: synset}, {synset: words}) for 1000 classes
    on indices 1..1000, in a shuffled order like the real file."""
    rng = numpy.random.RandomState(seed)
    synsets = ['n{:08d}'.format(s) for s in sorted(rng.choice(10 ** 7, 1200, replace=False))]
    used = synsets[:1000]
    indices = rng.permutation(numpy.arange(1, 1001))
    mapping = {int(i): s for i, s in zip(indices, used)}
    words = {s: 'thing {}, kind of {}'.format(k, k % 7) for k, s in enumerate(synsets)}
    return label_map_pbtxt(mapping), synset_words_txt(words), mapping, words


def label_map_pbtxt(mapping):
    lines = ['# -*- protobuffer -*-',
             '# LabelMap from ImageNet 2012 full data set UID to int32 target class.', '']
    for index, synset in mapping.items():
        lines += ['entry {', '  target_class: {}'.format(index),
                  '  target_class_string: "{}"'.format(synset), '}']
    return ('\n'.join(lines) + '\n').encode()


def synset_words_txt(words):
    return ''.join('{}\t{}\n'.format(s, w) for s, w in words.items()).encode()
