"""The label files are parsed in time linear in their size, up to the archive reader's cap
(16 MiB a member): a hostile label map is one line at once, before the graph is converted."""
import time

import pytest

import fuzz_tool
from inception_score.cli import download_main
from inception_score.errors import InputError
from inception_score.labels import LABEL_MAP_NAME, parse_label_map, parse_synset_words

CAP = 16 << 20

HOSTILE_MAPS = {
    'entries never closed': ('entry {\n  target_class: 3\n' * (CAP // 26),
                             'line 1: entry { is never closed by }'),
    'one closing brace at the very end': ('entry {\n' * (CAP // 8) + '}',
                                          "line 1: cannot read 'entry {'"),
    'entry words without braces': ('entry ' * (CAP // 6),
                                   "unexpected text 'entry entry entry"),
    'valid entries then a runaway one': (
        'entry {\n  target_class: 3\n  target_class_string: "n01440764"\n}\n'
        + 'entry {\n  target_class: 4\n' * (CAP // 26),
        'line 5: entry { is never closed by }'),
}


@pytest.mark.parametrize('case', sorted(HOSTILE_MAPS))
def test_hostile_label_maps_of_the_capped_size_fail_at_once(case):
    text, message = HOSTILE_MAPS[case]
    started = time.monotonic()
    with pytest.raises(InputError) as e:
        parse_label_map(text.encode())
    seconds = time.monotonic() - started
    assert message in str(e.value) and '\n' not in str(e.value), str(e.value)
    # The quadratic parser took 11 s on 28 KB; linear, 16 MiB take well under a second.
    assert seconds < 5, seconds


def test_line_numbers_count_every_line_before_the_entry():
    text = ('# comment {\n\n' + ''.join('entry {{\n  target_class: {}\n  target_class_string: '
                                         '"n01440764"\n}}\n'.format(i) for i in (1, 2, 3))
            + 'entry {\n  target_class: 9\n}\n')
    with pytest.raises(InputError, match='line 15: entry without target_class_string'):
        parse_label_map(text.encode())
    words = b'n01440764\tfish\n' * (CAP // 16)
    started = time.monotonic()
    assert parse_synset_words(words) == {'n01440764': 'fish'}
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_the_converter_refuses_a_200_kb_runaway_label_map_before_converting(graph_files,
                                                                            tmp_path, capsys):
    archives = fuzz_tool.LabelArchives(graph_files['pb'], str(tmp_path))
    archive = str(tmp_path / 'inception-2015-12-05.tgz')
    runaway = ('entry {\n  target_class: 3\n' * (200000 // 26)).encode()
    archives.write(archive, dict(archives.labels, **{LABEL_MAP_NAME: runaway}))
    out = tmp_path / 'out.model'
    started = time.monotonic()
    code = download_main(['--graph', archive, '--outfile', str(out), '--quiet'])
    seconds = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == ['inception-score-download: error: {} line 1: entry {{ is never '
                                'closed by }}'.format(LABEL_MAP_NAME)]
    assert not out.exists()
    assert seconds < 20, seconds  # reading the 95 MB archive; no conversion
