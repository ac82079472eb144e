"""Reading a .npy file or one .npz member without trusting it.

The format is told by the first bytes, not by the name (a .npy renamed .npz reads fine). The
header is parsed by numpy's own parser and checked against what the file can actually hold
before anything is allocated. Rows are then read on demand: a .npz member is streamed, never
inflated whole, so memory follows what is read, not what the file claims (a zip bomb is just a
long stream). Nothing is ever unpickled. Every problem is an InputError naming the file.
"""
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy
from numpy.lib import format as npy_format

from inception_score.errors import InputError
from inception_score.fixes import fix
from inception_score.io import open_regular

NPY_MAGIC = b'\x93NUMPY'
ZIP_MAGICS = (b'PK\x03\x04', b'PK\x05\x06')  # an archive with members; an empty archive
# A Fortran-order array cannot be read row by row (the rows are interleaved), so it is read
# whole, which is allowed up to this size.
WHOLE_READ_BYTES = 256 << 20
# zipfile keeps an object of some hundred bytes for every member listed in the archive's
# directory: a small file listing millions of members would cost gigabytes before any check.
# numpy's .npz files hold one member per array.
MAX_MEMBERS = 4096
# Deflate turns at most 258 bytes into 2 bits (1032:1): a member claiming more than that of its
# compressed bytes cannot hold them.
DEFLATE_MAX_RATIO = 1032

# What a damaged archive or header can raise from zipfile, zlib and numpy's header parser.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, SyntaxError,
            tokenize.TokenError, RecursionError, NotImplementedError, RuntimeError, TypeError,
            KeyError, OverflowError, struct.error)


def _first_line(e, limit=120):
    """The start of an exception's message, on one line."""
    text = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
    text = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return text if len(text) <= limit else text[:limit] + '...'


def _what_it_is(head):
    """A few words on a file that is neither .npy nor .npz, from its first bytes."""
    if not head:
        return 'it is empty'
    if head[:1] == b'\x80' and len(head) > 1 and head[1] <= 5:
        return 'it is a Python pickle, and pickles are never loaded'
    if head[:2] == b'\x1f\x8b':
        return 'it is gzip-compressed'
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in '\r\n\t' for c in text):
        return 'it is a text file starting {!r}'.format(text[:24])
    return 'it starts with {!r}'.format(head[:8])


def sniff(path):
    """('npy' or 'npz' or None, the first 64 bytes) of a regular file (InputError if it cannot
    be read); describe the bytes of an unknown one with `describe`."""
    with open_regular(path) as f:
        try:
            head = f.read(64)
        except OSError as e:
            raise InputError('{} cannot be read ({})'.format(
                path, e.strerror or _first_line(e))) from None
    if head.startswith(NPY_MAGIC):
        return 'npy', head
    if head[:4] in ZIP_MAGICS:
        return 'npz', head
    return None, head


def describe(head):
    """A few words on a file that is neither .npy nor .npz, from its first bytes."""
    return _what_it_is(head)


def open_archive(path, file):
    """The zipfile.ZipFile reading `file`, the open .npz at `path` (the caller closes both),
    its directory checked: at most MAX_MEMBERS members, each claiming no more bytes than its
    compressed data can hold and lying within the file. InputError (one line) otherwise."""
    try:
        size = os.fstat(file.fileno()).st_size
        end = zipfile._EndRecData(file)  # the end record alone: how many members are listed
        if end and end[4] > MAX_MEMBERS:  # zipfile._ECD_ENTRIES_TOTAL
            raise InputError('{} is not a .npz of arrays: its zip directory lists {} members '
                             '(numpy writes one per array; at most {} are read): re-create '
                             'it'.format(path, end[4], MAX_MEMBERS))
        file.seek(0)
        archive = zipfile.ZipFile(file)
    except InputError:
        raise
    except _DAMAGED as e:
        raise InputError('{} is a damaged .npz (zip) archive ({}): is it truncated? '
                         're-create it'.format(path, _first_line(e))) from None
    for info in archive.infolist():
        if info.header_offset + info.compress_size > size:
            raise InputError('{} is damaged: its member {!r} claims {} compressed bytes from '
                             'offset {}, past the end of the {}-byte file: is it truncated? '
                             're-create it'.format(path, info.filename, info.compress_size,
                                                   info.header_offset, size))
        limit = {zipfile.ZIP_STORED: info.compress_size,
                 zipfile.ZIP_DEFLATED: info.compress_size * DEFLATE_MAX_RATIO + 64}.get(
                     info.compress_type, info.file_size)
        if info.file_size > limit:
            raise InputError('{} is damaged: its member {!r} claims {} bytes, more than its {} '
                             'compressed bytes can hold: re-create it'.format(
                                 path, info.filename, info.file_size, info.compress_size))
    return archive


def member_names(archive):
    """The array names of an open .npz archive, numpy's way: member 'x.npy' is array 'x', other
    members keep their names."""
    return [n[:-4] if n.endswith('.npy') else n for n in archive.namelist()]


class ArrayFile:
    """The array in a .npy file, or the array `key` (default 'arr_0') of a .npz archive
    (`missing_key_fix` ends the message when the archive has no such array).

    Opening reads and checks the header only; `read(start, stop)` returns rows start..stop-1
    as a new C-order array, `read_all()` the whole array (0-d ones too). Use as a context
    manager (or call close()). `archive`: an open_archive() of `path` to take the member from
    (it stays open). Attributes: path, label (the file, and the member for an archive), shape,
    dtype, nbytes.
    """

    def __init__(self, path, key=None, archive=None, missing_key_fix=None):
        self.path = path
        self.label = path
        self._missing_key_fix = missing_key_fix
        self._file = self._zip = self._stream = self._whole = None
        self._own_zip = archive is None
        try:
            if archive is None:
                self._open(key)
            else:
                self._zip = archive
                self._read_header(self._open_member(key))
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for handle in (self._stream, self._zip if self._own_zip else None, self._file):
            if handle is not None:
                try:
                    handle.close()
                except Exception:
                    pass
        self._file = self._zip = self._stream = self._whole = None

    def _damaged(self, e, what='is damaged'):
        return InputError('{} {} ({}): re-create it'.format(self.label, what, _first_line(e)))

    def _open(self, key):
        self._file = open_regular(self.path)
        try:
            head = self._file.read(64)
            self._file.seek(0)
        except OSError as e:
            raise InputError('{} cannot be read ({})'.format(
                self.path, e.strerror or _first_line(e))) from None
        if head.startswith(NPY_MAGIC):
            self._stream = self._file
            size = os.fstat(self._file.fileno()).st_size
        elif head[:4] in ZIP_MAGICS:
            size = self._open_member(key)
        else:
            raise InputError('{} is neither a .npy nor a .npz file ({}): save images with '
                             'numpy.save or numpy.savez'.format(self.path, _what_it_is(head)))
        self._read_header(size)

    def _open_member(self, key):
        key = 'arr_0' if key is None else key
        if self._zip is None:
            self._zip = open_archive(self.path, self._file)
        names = self._zip.namelist()
        # numpy's naming: member 'x.npy' is array 'x'; other members keep their names.
        name = key if key in names else key + '.npy'
        if name not in names:
            arrays = [n[:-4] if n.endswith('.npy') else n for n in names]
            raise InputError('{} has no array {!r} (it has {}): {}'.format(
                self.path, key, ', '.join(arrays) or 'none',
                self._missing_key_fix or 'pass ' + fix('key', 'NAME')))
        self.label = '{} (array {!r})'.format(self.path, key)
        try:
            info = self._zip.getinfo(name)
            self._stream = self._zip.open(info)
        except _DAMAGED as e:
            raise self._damaged(e) from None
        return info.file_size

    def _read_header(self, size):
        try:
            version = npy_format.read_magic(self._stream)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise self._damaged(e) from None
        except _DAMAGED as e:
            raise InputError('{} is not a .npy array ({})'.format(self.label, _first_line(e))) \
                from None
        readers = {(1, 0): npy_format.read_array_header_1_0,
                   (2, 0): npy_format.read_array_header_2_0}
        if version not in readers:
            raise InputError('{} has .npy format version {}.{}, which only structured arrays '
                             'use: save a plain numeric array'.format(self.label, *version))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # numpy's note on Python 2 headers
                shape, fortran_order, dtype = readers[version](self._stream)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise self._damaged(e) from None
        except _DAMAGED as e:
            raise InputError('{} has a damaged .npy header ({}): re-create it'.format(
                self.label, _first_line(e))) from None
        if dtype.hasobject:
            raise InputError('{} holds pickled Python objects, which are never loaded: save '
                             'a plain numeric array'.format(self.label))
        if any(d < 0 for d in shape):
            raise InputError('{} has a damaged .npy header (shape {})'.format(self.label, shape))
        self.shape, self.dtype, self.fortran_order = tuple(shape), dtype, fortran_order
        self.offset = self._stream.tell()
        self.nbytes = math.prod(shape) * dtype.itemsize
        # Decided from the header and the file's (or the archive directory's) size alone,
        # before anything of that size is allocated.
        if self.nbytes > size - self.offset:
            raise InputError(
                '{} is truncated or damaged: its header promises a {} array of shape {} ({} '
                'bytes) but the {} holds {} bytes: re-create it'.format(
                    self.label, dtype, self.shape, self.nbytes,
                    'archive member' if self._zip is not None else 'file',
                    max(size - self.offset, 0)))
        if self._zip is not None and self.nbytes < size - self.offset:
            # numpy writes exactly header + data; more is damage (or a bomb's padding), and
            # ending the read at the member's end is what makes zipfile check its CRC.
            raise InputError('{} is damaged: the archive member holds {} bytes more than its '
                             'header promises: re-create it'.format(
                                 self.label, size - self.offset - self.nbytes))
        if fortran_order and self.nbytes > WHOLE_READ_BYTES:
            raise InputError(
                '{} stores its {}-byte array in Fortran order, which cannot be read in '
                'batches (up to {} MiB is read whole): save numpy.ascontiguousarray(images)'
                .format(self.label, self.nbytes, WHOLE_READ_BYTES >> 20))

    def _read_into(self, out):
        view = out.reshape(-1).view(numpy.uint8)
        done = 0
        while done < len(view):
            try:
                got = self._stream.readinto(view[done:])
            except _DAMAGED as e:
                raise self._damaged(e) from None
            if not got:
                raise InputError('{} is truncated: it ends {} bytes short: re-create it'
                                 .format(self.label, len(view) - done))
            done += got

    def _seek(self, position):
        try:
            if self._stream.tell() != position:
                self._stream.seek(position)  # a .npz member inflates forward to get there
        except _DAMAGED as e:
            raise self._damaged(e) from None

    def read_all(self):
        """The whole array (of any number of dimensions) as a new C-order array."""
        if not self.shape:
            out = numpy.empty((), self.dtype)
            self._seek(self.offset)
            self._read_into(out)
            return out
        return self.read(0, self.shape[0])

    def read(self, start, stop):
        """Rows start..stop-1 (0 <= start <= stop <= shape[0]) as a new array."""
        if self.fortran_order:
            if self._whole is None:  # the C-order array of the reversed shape, transposed
                whole = numpy.empty(self.shape[::-1], self.dtype)
                self._seek(self.offset)
                self._read_into(whole)
                self._whole = whole.T
            return numpy.ascontiguousarray(self._whole[start:stop])
        row = math.prod(self.shape[1:]) * self.dtype.itemsize
        out = numpy.empty((stop - start,) + self.shape[1:], self.dtype)
        self._seek(self.offset + start * row)
        self._read_into(out)
        return out


__all__ = ['ArrayFile', 'describe', 'member_names', 'open_archive', 'sniff']
