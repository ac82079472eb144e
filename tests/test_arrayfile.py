""".npy files and .npz members read without trust: format sniffed, header checked against what
the file holds before any allocation, rows read lazily, nothing unpickled, one line per problem."""
import hashlib
import io
import os
import pickle
import zipfile

import numpy
import pytest
from numpy.lib import format as npy_format

from inception_score.arrayfile import WHOLE_READ_BYTES, ArrayFile
from inception_score.errors import InputError

IMAGES = numpy.random.RandomState(0).randint(0, 256, (6, 8, 8, 3)).astype(numpy.uint8)


def _digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _header(shape, descr='<f4', fortran_order=False):
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {'descr': descr, 'fortran_order': fortran_order,
                                            'shape': shape})
    return buf.getvalue()


def _refused(path, *fragments, key=None):
    """The one-line InputError opening or reading all of `path` gives; the file is unchanged."""
    before = _digest(path)
    with pytest.raises(InputError) as info:
        with ArrayFile(path, key) as f:
            f.read(0, f.shape[0])
    message = str(info.value)
    assert len(message.splitlines()) == 1 and path in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert _digest(path) == before
    return message


def test_npy_and_npz_read_rows_on_demand(tmp_path):
    npy, npz = str(tmp_path / 'a.npy'), str(tmp_path / 'a.npz')
    numpy.save(npy, IMAGES)
    numpy.savez_compressed(npz, samples=IMAGES)
    for path, key in ((npy, None), (npz, 'samples')):
        with ArrayFile(path, key) as f:
            assert f.shape == IMAGES.shape and f.dtype == numpy.uint8
            assert numpy.array_equal(f.read(2, 5), IMAGES[2:5])
            assert numpy.array_equal(f.read(0, 2), IMAGES[:2])  # backwards: re-read
            assert numpy.array_equal(f.read(5, 6), IMAGES[5:])


def test_the_format_is_sniffed_not_taken_from_the_name(tmp_path):
    as_npz, as_npy = str(tmp_path / 'really_npy.npz'), str(tmp_path / 'really_npz.npy')
    with open(as_npz, 'wb') as f:
        numpy.save(f, IMAGES)
    with open(as_npy, 'wb') as f:
        numpy.savez(f, IMAGES)
    for path in (as_npz, as_npy):
        with ArrayFile(path) as f:
            assert numpy.array_equal(f.read(0, 6), IMAGES)


def test_fortran_order_is_read_whole_up_to_a_limit(tmp_path):
    path = str(tmp_path / 'f.npy')
    numpy.save(path, numpy.asfortranarray(IMAGES))
    with ArrayFile(path) as f:
        assert numpy.array_equal(f.read(1, 4), IMAGES[1:4])
    big = str(tmp_path / 'big.npy')
    n = WHOLE_READ_BYTES // (8 * 8 * 3 * 4) + 1
    with open(big, 'wb') as f:  # the header and a sparse tail: nothing of that size is written
        f.write(_header((n, 8, 8, 3), fortran_order=True))
        f.truncate(f.tell() + n * 8 * 8 * 3 * 4)
    _refused(big, 'Fortran order', 'numpy.ascontiguousarray')


def test_text_pickle_and_empty_files_say_what_they_are(tmp_path):
    text, pickled, empty = (str(tmp_path / n) for n in ('t.npy', 'p.npy', 'e.npz'))
    with open(text, 'w') as f:
        f.write('1 2 3\n4 5 6\n')
    with open(pickled, 'wb') as f:
        pickle.dump([1, 2, 3], f)
    open(empty, 'wb').close()
    message = _refused(text, 'neither a .npy nor a .npz file', 'text file')
    assert 'pickle' not in message.replace(text, '')
    _refused(pickled, 'Python pickle', 'never loaded')
    _refused(empty, 'it is empty')


def test_object_arrays_are_never_unpickled(tmp_path):
    path = str(tmp_path / 'o.npy')
    numpy.save(path, numpy.array([{'a': 1}] * 3, dtype=object), allow_pickle=True)
    _refused(path, 'pickled Python objects, which are never loaded')


@pytest.mark.parametrize('garbage', [b'((((((((((((((((((((', b"{'descr\\", b'\x00\xff' * 10])
def test_garbled_npy_header_is_one_line(tmp_path, garbage):
    path = tmp_path / 'g.npy'
    numpy.save(str(path), IMAGES)
    data = bytearray(path.read_bytes())
    data[12:12 + len(garbage)] = garbage
    path.write_bytes(bytes(data))
    _refused(str(path), 'damaged .npy header')


def test_truncated_npy_is_refused_before_reading(tmp_path):
    path = tmp_path / 't.npy'
    numpy.save(str(path), IMAGES)
    path.write_bytes(path.read_bytes()[:-100])
    _refused(str(path), 'truncated or damaged', 'shape (6, 8, 8, 3)')


def test_header_claiming_250_gib_in_a_tiny_npz_is_refused_before_allocation(tmp_path):
    path = str(tmp_path / 'claim.npz')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('arr_0.npy', _header((250 * 2 ** 30 // (3 * 64 * 64 * 4), 3, 64, 64)) +
                   bytes(1000))
    assert os.path.getsize(path) < 2000
    _refused(path, "(array 'arr_0') is truncated or damaged", 'archive member holds 1000 bytes')


def test_member_size_other_than_the_header_promises_is_refused(tmp_path):
    # numpy writes a member of exactly header + data; the zip directory here claims 1 MB more.
    path = tmp_path / 'lie.npz'
    numpy.savez(str(path), IMAGES)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(str(path)).getinfo('arr_0.npy')
    size = info.file_size.to_bytes(4, 'little')
    bigger = (info.file_size + 10 ** 6).to_bytes(4, 'little')
    data = data.replace(size, bigger)  # both local header and central directory
    path.write_bytes(bytes(data))
    # A stored member's compressed size is its size: it now reaches past the end of the file.
    _refused(str(path), "lie.npz is damaged: its member 'arr_0.npy' claims 1001280 compressed "
                        "bytes from offset 0, past the end of the")


def test_truncated_and_crc_broken_npz(tmp_path):
    good = tmp_path / 'good.npz'
    numpy.savez_compressed(str(good), numpy.tile(IMAGES, (20, 1, 1, 1)))
    data = good.read_bytes()
    truncated = tmp_path / 'truncated.npz'
    truncated.write_bytes(data[:len(data) // 2])
    _refused(str(truncated), 'damaged .npz (zip) archive', 'truncated')
    flipped = tmp_path / 'flipped.npz'
    broken = bytearray(data)
    broken[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(broken))
    _refused(str(flipped), "flipped.npz (array 'arr_0')")
    stored = tmp_path / 'stored.npz'
    numpy.savez(str(stored), IMAGES)
    broken = bytearray(stored.read_bytes())
    broken[200] ^= 0xFF  # in the data of an uncompressed member: only the CRC can tell
    stored.write_bytes(bytes(broken))
    _refused(str(stored), 'Bad CRC-32')


def test_members_that_are_not_npy_and_missing_keys(tmp_path):
    path = str(tmp_path / 'm.npz')
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('arr_0.npy', 'hello, not an array')
        z.writestr('notes.txt', 'hi')
    _refused(path, "(array 'arr_0') is not a .npy array")
    _refused(path, "(array 'notes.txt')", key='notes.txt')
    message = _refused(path, "has no array 'x' (it has arr_0, notes.txt): pass key=NAME",
                       key='x')
    assert message.count('has no array') == 1  # not nested in another message


def test_non_regular_file_is_refused_without_blocking(tmp_path):
    path = str(tmp_path / 'fifo.npy')
    os.mkfifo(path)
    with pytest.raises(InputError, match='is not a regular file \\(a FIFO\\)'):
        ArrayFile(path)
