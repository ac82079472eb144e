"""How a message names its fix: in the words of whoever called.

The same check serves Python code and the command lines, so a message that says what to pass
spells it through `fix()`: `value_range=(-1, 1)` for Python code, `--input-range=-1,1` under a
command line (`cli.run` sets that for everything it runs; a thread it starts gets the
caller's words through `carried`).
"""
import contextlib
import contextvars

KEYWORDS, FLAGS = 'keywords', 'flags'
_words = contextvars.ContextVar('inception_score_words', default=KEYWORDS)

PLACEHOLDERS = ('NAME', 'PATH', 'N')
# Flags whose name is not the keyword's with dashes.
_FLAG_NAMES = {'value_range': '--input-range'}


@contextlib.contextmanager
def flags():
    """Within the block, messages name command-line flags."""
    token = _words.set(FLAGS)
    try:
        yield
    finally:
        _words.reset(token)


def carried(function):
    """`function` wrapped to speak the words of the current caller wherever it runs (a thread
    starts with an empty context, in which messages would name keywords)."""
    words = _words.get()

    def call(*args, **kwargs):
        token = _words.set(words)
        try:
            return function(*args, **kwargs)
        finally:
            _words.reset(token)
    return call


def option(name):
    """The option itself: `value_range` or `--input-range`."""
    if _words.get() == FLAGS:
        return _FLAG_NAMES.get(name, '--' + name.replace('_', '-'))
    return name


def setting(name, value):
    """The value an option has, in prose: `value_range (0, 255)`, `--input-range=0,255`."""
    if _words.get() == FLAGS:
        return fix(name, value)
    return '{} {}'.format(name, fix(name, value).split('=', 1)[1])


def fix(name, value=True):
    """How the caller sets option `name` to `value`.

    True is a switch (`skip_bad=True`, `--skip-bad`); a tuple is a range (`value_range=(0, 1)`,
    `--input-range=0,1`); one of PLACEHOLDERS stands for the user's value (`key=NAME`,
    `--key NAME`).
    """
    if isinstance(value, tuple):
        numbers = ['{:g}'.format(v) for v in value]
    if _words.get() == FLAGS:
        flag = option(name)
        if value is True:
            return flag
        if isinstance(value, tuple):
            return '{}={}'.format(flag, ','.join(numbers))
        return '{} {}'.format(flag, value)
    if isinstance(value, tuple):
        text = '({})'.format(', '.join(numbers))
    elif value in PLACEHOLDERS:
        text = value
    else:
        text = repr(value)
    return '{}={}'.format(name, text)
