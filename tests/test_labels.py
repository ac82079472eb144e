"""Class names from the archive's label files; the prediction summary and class counts."""
import numpy as np
import pytest
from scipy import stats

from label_files import label_map_pbtxt, synset_words_txt, synthetic_labels
from inception_score.errors import InputError
from inception_score.labels import (ClassCounter, class_names, parse_label_map,
                                    placeholder_names, prediction_summary)


def test_names_follow_the_label_map_with_placeholders_elsewhere():
    label_map, words_file, mapping, words = synthetic_labels()
    names = class_names(label_map, words_file)
    assert len(names) == 1008
    for index in (1, 449, 1000):
        assert names[index] == words[mapping[index]]
    for index in (0, 1001, 1007):
        assert names[index] == 'class {} (no ImageNet synset)'.format(index)


def test_a_synset_without_words_is_named_by_its_synset():
    label_map = label_map_pbtxt({1: 'n01440764', 2: 'n01443537'})
    names = class_names(label_map, synset_words_txt({'n01440764': 'tench, Tinca tinca'}))
    assert names[1:3] == ['tench, Tinca tinca', 'n01443537']


def test_str_input_windows_line_ends_and_blank_lines_are_read():
    label_map = label_map_pbtxt({5: 'n01440764'}).decode().replace('\n', '\r\n')
    words = 'n01440764\ttench, Tinca tinca\r\n\r\nn09999999\tother\r\n'
    assert class_names(label_map, words)[5] == 'tench, Tinca tinca'


def test_placeholder_names_for_model_files_without_labels():
    names = placeholder_names()
    assert len(names) == 1008 and names[17] == 'class 17'


BAD_LABEL_MAPS = [
    ('entry {\n  target_class: 3\n}\n', 'line 1: entry without target_class_string'),
    ('entry {\n  target_class: x\n  target_class_string: "n01440764"\n}\n',
     "line 1: target_class 'x' is not an integer"),
    ('\nentry {\n  target_class: 3\n  target_class_string: n01440764\n}\n',
     'line 2: target_class_string n01440764 is not a quoted synset'),
    ('entry {\n  target_class: 1008\n  target_class_string: "n01440764"\n}\n',
     'target_class 1008 is outside 0..1007'),
    ('entry {\n  target_class: 3\n  target_class_string: "n01440764"\n}\n'
     'entry {\n  target_class: 3\n  target_class_string: "n01443537"\n}\n',
     'line 5: target_class 3 appears twice'),
    ('entry {\n  target_class 3\n}\n', "cannot read 'target_class 3'"),
    ('entry {\n  target_class: 3\n  target_class_string: "n01440764"\n}\nentry {\n',
     'line 5: entry { is never closed by }'),
    ('# only a comment\n', 'no entries found'),
]


@pytest.mark.parametrize('text,message', BAD_LABEL_MAPS)
def test_malformed_label_map_is_a_one_line_error(text, message):
    with pytest.raises(InputError, match='imagenet_2012_challenge_label_map_proto.pbtxt') as e:
        parse_label_map(text.encode())
    assert message in str(e.value) and '\n' not in str(e.value)


@pytest.mark.parametrize('text,message', [
    (b'n01440764 tench\n', "line 1: expected \"nXXXXXXXX<TAB>words\", got 'n01440764 tench'"),
    (b'n01440764\ttench\nfish\tcarp\n', 'line 2: expected'),
    (b'\n\n', 'no synsets found'),
])
def test_malformed_synset_words_are_one_line_errors(text, message):
    label_map = label_map_pbtxt({1: 'n01440764'})
    with pytest.raises(InputError, match='imagenet_synset_to_human_label_map.txt') as e:
        class_names(label_map, text)
    assert message in str(e.value) and '\n' not in str(e.value)


def test_undecodable_bytes_do_not_stop_the_names():
    names = class_names(label_map_pbtxt({1: 'n01440764'}), b'n01440764\tcaf\xe9\n')
    assert names[1] == 'caf\ufffd'


def test_prediction_summary():
    counts = np.zeros(1008, np.int64)
    counts[[7, 3, 9, 500]] = [50, 50, 20, 1]  # 3 and 7 tie: the lower index first
    names = ['name {}'.format(i) for i in range(1008)]
    marginal = np.full(1008, 1 / 1008)
    summary = prediction_summary(counts, names, top=3, marginal=marginal)
    assert summary['predictions'] == 121 and summary['distinct_classes'] == 4
    assert summary['top_classes'] == [
        {'index': 3, 'name': 'name 3', 'count': 50, 'fraction': 50 / 121},
        {'index': 7, 'name': 'name 7', 'count': 50, 'fraction': 50 / 121},
        {'index': 9, 'name': 'name 9', 'count': 20, 'fraction': 20 / 121}]
    assert summary['predicted_class_entropy_nats'] == pytest.approx(stats.entropy(counts),
                                                                    rel=1e-12)
    assert summary['marginal_entropy_nats'] == pytest.approx(np.log(1008), rel=1e-12)


def test_prediction_summary_of_a_collapsed_generator():
    counts = np.zeros(1008, np.int64)
    counts[42] = 1000
    summary = prediction_summary(counts, placeholder_names())
    assert summary['distinct_classes'] == 1 and summary['predicted_class_entropy_nats'] == 0.0
    assert [c['index'] for c in summary['top_classes']] == [42]
    assert 'marginal_entropy_nats' not in summary


def test_prediction_summary_refuses_mismatched_names_and_no_predictions():
    with pytest.raises(InputError, match='1008 class counts for 10 names'):
        prediction_summary(np.ones(1008), ['x'] * 10)
    with pytest.raises(InputError, match='no predictions were counted'):
        prediction_summary(np.zeros(1008), placeholder_names())


def test_class_counter_streams_and_merges():
    logits = np.random.RandomState(0).normal(0, 3, (500, 1008)).astype(np.float32)
    logits[10] = 0.0  # all tied: argmax takes index 0
    expected = np.bincount(logits.argmax(1), minlength=1008)
    one = ClassCounter()
    for i in range(0, 500, 64):
        one.update(logits[i:i + 64])
    merged = ClassCounter().update(logits[:123]).merge(ClassCounter().update(logits[123:]))
    assert np.array_equal(one.counts, expected) and np.array_equal(merged.counts, expected)
    assert one.counts[0] >= 1


@pytest.mark.parametrize('logits,message', [
    (np.zeros((4, 1000)), r'logits must be \(N, 1008\)'),
    (np.full((2, 1008), np.nan), 'NaN or Inf'),
])
def test_class_counter_refuses_bad_logits(logits, message):
    with pytest.raises(InputError, match=message):
        ClassCounter().update(logits)
