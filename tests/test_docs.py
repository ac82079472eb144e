"""The documentation against the code: every command shown in README.md and docs/*.md parses
with that command's own argument parser (built in-process, nothing run), and every relative
link points to an existing file and heading. A failure names the document and the line."""
import argparse
import contextlib
import importlib.util
import io
import os
import re
import shlex
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ['README.md'] + sorted(
    os.path.join('docs', name) for name in os.listdir(os.path.join(ROOT, 'docs'))
    if name.endswith('.md'))
SHELL_BLOCKS = ('bash', 'sh', 'shell', 'console')
OPERATORS = ('|', '||', '&&', ';', '&')
PYTHON = re.compile(r'python(\d+(\.\d+)?)?$')
ENV_ASSIGNMENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*=')
# Scripts run as `python PATH` and how to reach their parser (see _parse).
SCRIPTS = {
    'download.py': 'download.py',
    'example.py': 'example',
    'examples/dcgan_with_inception_score.py': 'dcgan',
    'bench/bench.py': 'bench',
    'bench/gpu_check.py': 'gpu_check',
}


def _read(doc):
    with open(os.path.join(ROOT, doc), encoding='utf-8') as f:
        return f.read().split('\n')


def _split_fences(lines):
    """(prose lines with fenced blocks blanked, [(language, first line number, lines)])."""
    prose, blocks, block = [], [], None
    for number, line in enumerate(lines, 1):
        fence = re.match(r'\s*```(\S*)', line)
        if fence and block is None:
            block = (fence.group(1).lower(), number + 1, [])
            prose.append('')
        elif fence:
            blocks.append(block)
            block = None
            prose.append('')
        elif block is not None:
            block[2].append(line)
            prose.append('')
        else:
            prose.append(line)
    assert block is None, 'an unclosed ``` fence'
    return prose, blocks


def _commands_in_block(language, first, lines):
    """(line number, text) of each shell command; a trailing backslash continues a line."""
    if language not in SHELL_BLOCKS:
        return
    pending, start = '', None
    for number, line in enumerate(lines, first):
        if start is None:
            start = number
        if line.rstrip().endswith('\\'):
            pending += line.rstrip()[:-1] + ' '
            continue
        text, pending = pending + line, ''
        if text.strip():
            yield start, text
        start = None


def _inline_commands(prose):
    """(line number, text) of code spans in prose that run one of our commands with
    arguments, or one of our shell scripts; a bare name such as `python example.py` is a
    name, not a command."""
    text = '\n'.join(prose)
    for match in re.finditer(r'`([^`]+)`', text):
        span = ' '.join(match.group(1).split())
        words = _loose_words(span)
        kind = _kind(words)
        if kind is not None and (kind.startswith('bash ') or
                                 len(words) > _command_length(words)):
            yield text.count('\n', 0, match.start()) + 1, span


def _words(text):
    """The words of the first command of a shell line: leading VAR=value assignments and
    redirections dropped, cut at the first |, &&, ; or &."""
    words = shlex.split(text, comments=True)
    for i, word in enumerate(words):
        if word in OPERATORS:
            words = words[:i]
            break
    words = [w for w in words if not re.match(r'\d*[<>]', w)]
    while words and ENV_ASSIGNMENT.match(words[0]):
        words = words[1:]
    return words


def _loose_words(text):
    """The words, also of a line that does not split as shell (which the test then reports
    if it is one of ours)."""
    try:
        return _words(text) or ['']
    except ValueError:
        return text.split() or ['']


def _command_length(words):
    """How many words name the command (`inception-score`: 1, `python example.py`: 2,
    `python -m inception_score`: 3)."""
    if PYTHON.match(os.path.basename(words[0])) and words[1:2] == ['-m']:
        return 3
    return 1 if os.path.basename(words[0]).startswith('inception-score') else 2


def _kind(words):
    """Which of our commands `words` runs, or None for anybody else's."""
    program = os.path.basename(words[0])
    if program in ('inception-score', 'inception-score-download'):
        return program
    if PYTHON.match(program) and len(words) > 1:
        if words[1] == '-m':
            return 'inception-score' if words[2:3] == ['inception_score'] else None
        if words[1].startswith('-'):
            return None
        return 'python ' + os.path.normpath(words[1])
    if program == 'bash' and len(words) > 1:
        return 'bash ' + os.path.normpath(words[1])
    return None


def _documented_commands():
    found = []
    for doc in DOCS:
        prose, blocks = _split_fences(_read(doc))
        for block in blocks:
            for number, text in _commands_in_block(*block):
                found.append((doc, number, text))
        found.extend((doc, number, text) for number, text in _inline_commands(prose))
    return [(doc, number, text) for doc, number, text in found
            if _kind(_loose_words(text)) is not None]


COMMANDS = _documented_commands()


_modules = {}


def _load(relative):
    """A script of this checkout as a module (its main() not called); sys.path as before."""
    if relative not in _modules:
        path = os.path.join(ROOT, relative)
        name = '_docs_' + re.sub(r'\W', '_', relative)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        saved = list(sys.path)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path[:] = saved
        _modules[relative] = module
    return _modules[relative]


class _Parsed(Exception):
    pass


def _parse_inside_main(main, argv, monkeypatch):
    """Run `main()` only as far as its parse_args, which parses `argv` and stops it there:
    for scripts whose parser is built inside main()."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        original(self, argv, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_and_stop)
    try:
        main()
    except _Parsed:
        return
    finally:
        monkeypatch.undo()
    raise AssertionError('main() returned without parsing its arguments')


def _run_sh_split(args):
    """run.sh's own argument loop, read from run.sh: (conversion flags, example.py flags)."""
    with open(os.path.join(ROOT, 'run.sh')) as f:
        script = f.read()
    # The loop's case for flags with a value: the one naming --graph.
    valued = re.search(r'^\s*((?:--[\w-]+\|)*--graph(?:\|--[\w-]+)*)\)', script,
                       re.M).group(1).split('|')
    joined = re.search(r'^\s*((?:--[\w-]+=\*\|)*--[\w-]+=\*)\)', script, re.M).group(1)
    to_convert = [flag[:-2] for flag in joined.split('|')]
    assert set(to_convert) < set(valued), 'run.sh changed shape: update _run_sh_split'
    convert, score, i = [], [], 0
    while i < len(args):
        arg = args[i]
        if arg in valued:
            assert i + 1 < len(args), 'run.sh: {} needs a value'.format(arg)
            (convert if arg in to_convert else score).extend(args[i:i + 2])
            i += 2
            continue
        (convert if arg.split('=')[0] in to_convert else score).append(arg)
        i += 1
    return convert, score


def _parse(kind, args, monkeypatch):
    """Parse `args` with the real parser of `kind`; SystemExit(2) on a bad flag."""
    from inception_score.cli import download_parser, score_parser
    if kind == 'inception-score':
        score_parser().parse_args(args)
    elif kind == 'inception-score-download':
        download_parser().parse_args(args)
    elif kind == 'python download.py':
        download_parser('download.py').parse_args(args)
    elif kind == 'python example.py':
        _load('example.py').parser().parse_args(args)
    elif kind == 'bash run.sh':
        convert, score = _run_sh_split(args)
        # What run.sh runs: download.py --outfile MODEL ..., example.py --infile MODEL ...
        download_parser('download.py').parse_args(
            ['--outfile', 'inception_score.model'] + convert)
        _load('example.py').parser().parse_args(
            ['--infile', 'inception_score.model', '--samples', '50000'] + score)
    elif kind == 'python examples/dcgan_with_inception_score.py':
        pytest.importorskip('chainer')  # the example imports Chainer at the top
        _parse_inside_main(_load('examples/dcgan_with_inception_score.py').main, args,
                           monkeypatch)
    elif kind.startswith('python ') and kind[7:] in SCRIPTS:
        _parse_inside_main(_load(kind[7:]).main, args, monkeypatch)
    elif kind.startswith('bash '):
        assert os.path.isfile(os.path.join(ROOT, kind[5:])), 'no such script'
    else:
        raise AssertionError('no parser known for `{}`: add it to SCRIPTS in '
                             'tests/test_docs.py'.format(kind))


@pytest.mark.parametrize('doc,number,text', COMMANDS,
                         ids=['{}:{}'.format(d, n) for d, n, _ in COMMANDS])
def test_documented_command_parses(doc, number, text, monkeypatch):
    where = '{}:{}: `{}`'.format(doc, number, text.strip())
    try:
        words = _words(text)
    except ValueError as e:
        pytest.fail('{}: does not split as a shell line: {}'.format(where, e), pytrace=False)
    kind = _kind(words)
    if kind.startswith('python ') and not os.path.isfile(os.path.join(ROOT, kind[7:])):
        pytest.fail('{}: {} does not exist'.format(where, kind[7:]), pytrace=False)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            _parse(kind, words[_command_length(words):], monkeypatch)
    except SystemExit as e:
        if e.code not in (0, None):  # --help exits 0
            pytest.fail('{}: does not parse: {}'.format(where, err.getvalue().strip()),
                        pytrace=False)
    except AssertionError as e:
        pytest.fail('{}: {}'.format(where, e), pytrace=False)


def test_every_command_is_shown_somewhere():
    # The extraction must see the commands, or the test above would pass on nothing.
    kinds = {_kind(_loose_words(text)) for _, _, text in COMMANDS}
    expected = {'inception-score', 'inception-score-download', 'bash run.sh', 'bash .ci/run'}
    expected |= {'python ' + path for path in SCRIPTS}
    assert expected <= kinds, 'no documented command for: {}'.format(
        ', '.join(sorted(expected - kinds)))


def test_a_wrong_flag_is_caught(monkeypatch):
    # The check itself: a misspelt flag, a bad value and a run.sh flag without its value fail.
    for kind, args in (('inception-score', ['x/', '--split', '3']),
                       ('inception-score', ['x/', '--samples', '0']),
                       ('python example.py', ['--sampels', '5']),
                       ('bash run.sh', ['--sha265', 'ab']),
                       ('python bench/gpu_check.py', [])):
        with pytest.raises(SystemExit) as e, contextlib.redirect_stderr(io.StringIO()):
            _parse(kind, args, monkeypatch)
        assert e.value.code == 2, (kind, args)
    with pytest.raises(AssertionError, match='needs a value'):
        _parse('bash run.sh', ['--graph'], monkeypatch)


def _slug(heading):
    """GitHub's anchor for a heading: formatting dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = text.replace('`', '').replace('*', '').strip().lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def _anchors(doc):
    prose, _ = _split_fences(_read(doc))
    seen, anchors = {}, set()
    for line in prose:
        heading = re.match(r'#{1,6}\s+(.*)', line)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else '{}-{}'.format(slug, count))
    return anchors


def _links(doc):
    """(line number, target) of each Markdown link outside code."""
    prose, _ = _split_fences(_read(doc))
    for number, line in enumerate(prose, 1):
        line = re.sub(r'`[^`]*`', '', line)
        for match in re.finditer(r'\]\(([^)\s]+)\)', line):
            yield number, match.group(1)


@pytest.mark.parametrize('doc', DOCS)
def test_relative_links_resolve(doc):
    broken = []
    for number, target in _links(doc):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(os.path.join(ROOT, resolved)):
            broken.append('{}:{}: {} does not exist'.format(doc, number, target))
        elif anchor and (not resolved.endswith('.md') or anchor not in _anchors(resolved)):
            broken.append('{}:{}: {} has no heading #{}'.format(doc, number, resolved, anchor))
    assert not broken, '\n'.join(broken)


def test_readme_links_every_document():
    linked = {os.path.normpath(target.partition('#')[0]) for _, target in _links('README.md')}
    missing = [doc for doc in DOCS[1:] if doc not in linked]
    assert not missing, 'README.md does not link to: {}'.format(', '.join(missing))


@pytest.mark.parametrize('kind', ['inception-score', 'inception-score-download',
                                  'python example.py'])
def test_every_flag_is_in_the_command_line_doc(kind):
    # A new flag needs its line in docs/command-line.md (the flags tables).
    from inception_score.cli import download_parser, score_parser
    parser = {'inception-score': score_parser, 'inception-score-download': download_parser,
              'python example.py': lambda: _load('example.py').parser()}[kind]()
    text = '\n'.join(_read(os.path.join('docs', 'command-line.md')))
    flags = [flag for action in parser._actions if action.help != argparse.SUPPRESS
             for flag in action.option_strings if flag.startswith('--') and flag != '--help']
    missing = [flag for flag in flags if not re.search(re.escape(flag) + r'(?![\w-])', text)]
    assert not missing, '{}: {} not in docs/command-line.md'.format(kind, ', '.join(missing))


@pytest.mark.parametrize('doc', DOCS)
def test_python_blocks_compile(doc):
    _, blocks = _split_fences(_read(doc))
    for language, first, lines in blocks:
        if language == 'python':
            try:
                compile('\n'.join(lines), doc, 'exec')
            except SyntaxError as e:
                pytest.fail('{}:{}: {}'.format(doc, first + (e.lineno or 1) - 1, e.msg),
                            pytrace=False)
