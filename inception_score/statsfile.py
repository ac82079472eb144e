"""Statistics files, read without trusting them: TTUR's .npz (`mu`, `sigma`) and OpenAI's ADM
reference batches (`arr_0` images next to `mu`, `sigma`, `mu_s`, `sigma_s`).

Nothing is spent before it is checked. The file is sniffed (an .npz archive, not a .npy or
anything else) and its zip directory checked (arrayfile.open_archive). Each array needed is
opened through arrayfile.ArrayFile, whose header must fit in the bytes the archive really
holds, and its dtype (float32 or float64) and shape ((d,) and (d, d), d the features asked
for) are checked before a byte of data is read; the data is then checked finite, symmetric
and positive semi-definite (fid.check_statistics). Arrays that are not needed are never read:
other entries only when their header declares a scalar of at most PROVENANCE_BYTES (the
provenance that save_statistics writes). Nothing is unpickled. Every problem is one line that
names the file and what is wrong.
"""
import json

import numpy

from inception_score.arrayfile import (ArrayFile, WHOLE_READ_BYTES, describe, member_names,
                                       open_archive, sniff)
from inception_score.errors import InputError
from inception_score.fid import check_statistics_shapes
from inception_score.io import open_regular

# Names our statistics and ADM's reference batches use for the arrays themselves ('pool_3':
# the feature vectors that --save-features keeps).
STATISTICS_KEYS = ('mu', 'sigma', 'mu_s', 'sigma_s', 'arr_0', 'pool_3')
# A provenance entry is read only if its header declares a scalar this small.
PROVENANCE_BYTES = 4096
# Without an expected size, a covariance is read whole up to arrayfile's whole-read limit.
MAX_FEATURES = int((WHOLE_READ_BYTES // 8) ** 0.5)
_FLOAT_DTYPES = ('float32', 'float64')


def _sniffed(path):
    """Fail (one line) unless `path` is an .npz archive."""
    import os
    if os.path.isdir(path):
        raise InputError('{}: is a directory, not a statistics file'.format(path))
    if not os.path.exists(path):
        raise InputError('{}: no such statistics file'.format(path))
    kind, head = sniff(path)
    if kind == 'npy':
        raise InputError('{}: a single .npy array, expected an .npz with mu and sigma'.format(
            path))
    if kind != 'npz':
        raise InputError('{}: not an .npz file ({}; TTUR statistics are an .npz with mu and '
                         'sigma)'.format(path, describe(head)))


class StatisticsFile:
    """An opened statistics file: `keys` (its array names) are known, nothing is read yet.
    Use as a context manager."""

    def __init__(self, path):
        self.path = path
        _sniffed(path)
        self._file = open_regular(path)
        try:
            self._archive = open_archive(path, self._file)
        except BaseException:
            self._file.close()
            raise
        self.keys = set(member_names(self._archive))
        self._arrays = {n[:-4] for n in self._archive.namelist() if n.endswith('.npy')}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._archive.close()
        self._file.close()

    def _array(self, key):
        return ArrayFile(self.path, key, archive=self._archive)

    def statistics(self, spatial=False, dim=None):
        """(mu, sigma) in float64: see load_statistics."""
        path = self.path
        mu_key, sigma_key = ('mu_s', 'sigma_s') if spatial else ('mu', 'sigma')
        keys = self.keys
        if (mu_key in keys) != (sigma_key in keys):
            present, absent = (mu_key, sigma_key) if mu_key in keys else (sigma_key, mu_key)
            raise InputError('{}: has {!r} but not {!r}: incomplete statistics'.format(
                path, present, absent))
        if mu_key not in keys:
            if 'arr_0' in keys:
                raise InputError('{}: an ADM reference batch without precomputed {!r} and {!r}: '
                                 'score its arr_0 images as the reference instead'.format(
                                     path, mu_key, sigma_key))
            raise InputError('{}: has neither {!r} and {!r} statistics nor arr_0 images '
                             '(found: {})'.format(path, mu_key, sigma_key,
                                                  ', '.join(sorted(keys)) or 'nothing'))
        with self._array(mu_key) as mu_file, self._array(sigma_key) as sigma_file:
            for key, f in ((mu_key, mu_file), (sigma_key, sigma_file)):
                if f.dtype.name not in _FLOAT_DTYPES:
                    raise InputError('{}: {!r} has dtype {}, expected float32 or float64 (TTUR '
                                     'and ADM save float64 statistics): re-create the '
                                     'file'.format(path, key, f.dtype))
            d = check_statistics_shapes(mu_file.shape, sigma_file.shape, dim, path,
                                        (mu_key, sigma_key))
            if dim is None and d > MAX_FEATURES:
                raise InputError('{}: statistics of {} features are more than the {} read '
                                 '(pool_3 has 2048)'.format(path, d, MAX_FEATURES))
            mu, sigma = mu_file.read_all(), sigma_file.read_all()
        from inception_score.fid import check_statistics
        return check_statistics(mu, sigma, dim=dim, where=path, names=(mu_key, sigma_key))

    def provenance(self):
        """The format, the array names and the small scalar entries (what save_statistics
        wrote) as plain Python values; larger entries are named in 'keys' only."""
        info = {'format': 'adm-reference-batch' if 'arr_0' in self.keys else 'ttur-statistics',
                'keys': sorted(self.keys)}
        for key in sorted(self._arrays - set(STATISTICS_KEYS)):
            with self._array(key) as f:
                if (f.shape or f.dtype.kind not in 'biufU' or f.nbytes > PROVENANCE_BYTES):
                    continue
                value = f.read_all().item()
            info[key] = value
        return info


def open_statistics(path):
    """A StatisticsFile for `path` (sniffed, its zip directory checked, nothing else read)."""
    return StatisticsFile(path)


def npz_keys(path):
    """The array names in a statistics file (nothing is read); one-line errors."""
    with open_statistics(path) as f:
        return set(f.keys)


def load_statistics(path, spatial=False, dim=None):
    """(mu, sigma) in float64 from a TTUR statistics file or an ADM reference batch.

    spatial=True reads ADM's sFID statistics (`mu_s`, `sigma_s`). `dim`, if given, is the
    feature size they must have (2048 for pool_3, 2023 for ADM's spatial features); without
    it, at most MAX_FEATURES. Both must be float32 or float64 arrays of shapes (d,) and (d, d)
    (checked on their headers, before reading them), finite, sigma symmetric and positive
    semi-definite within float32 rounding (fid.check_statistics).
    """
    with open_statistics(path) as f:
        return f.statistics(spatial, dim)


def read_provenance(path):
    """The small entries next to the statistics (what `save_statistics` wrote, and the kind of
    file), as plain Python values; arrays are named by key only."""
    with open_statistics(path) as f:
        return f.provenance()


def _provenance_array(key, value):
    if isinstance(value, (bool, numpy.bool_, int, float, str, numpy.integer, numpy.floating)):
        return numpy.array(value)
    raise InputError('statistics provenance {!r} must be a string or a number, got {}'.format(
        key, type(value).__name__))


def _arrays(mu, sigma, pool_3=None, spatial=None, **provenance):
    """{name: array} of a TTUR statistics file, checked."""
    mu = numpy.asarray(mu, dtype=numpy.float64)
    sigma = numpy.asarray(sigma, dtype=numpy.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise InputError('statistics must be mu (d,) and sigma (d, d), got {} and {}'.format(
            mu.shape, sigma.shape))
    arrays = {'mu': mu, 'sigma': sigma}
    if pool_3 is not None:
        arrays['pool_3'] = numpy.asarray(pool_3, dtype=numpy.float32)
        if arrays['pool_3'].ndim != 2 or arrays['pool_3'].shape[1] != mu.shape[0]:
            raise InputError('feature vectors must be (N, {}), got {}'.format(
                mu.shape[0], arrays['pool_3'].shape))
    if spatial is not None:
        mu_s, sigma_s = (numpy.asarray(a, dtype=numpy.float64) for a in spatial)
        if mu_s.ndim != 1 or sigma_s.shape != mu_s.shape * 2:
            raise InputError('spatial statistics must be mu_s (d,) and sigma_s (d, d), got {} '
                             'and {}'.format(mu_s.shape, sigma_s.shape))
        arrays.update(mu_s=mu_s, sigma_s=sigma_s)
    for key, value in provenance.items():
        if key in STATISTICS_KEYS:
            raise InputError('statistics provenance cannot be named {!r}'.format(key))
        array = _provenance_array(key, value)
        if array.nbytes > PROVENANCE_BYTES:
            raise InputError('statistics provenance {!r} takes {} bytes, more than the {} '
                             'read back'.format(key, array.nbytes, PROVENANCE_BYTES))
        arrays[key] = array
    return arrays


def save_statistics(path, mu, sigma, pool_3=None, spatial=None, **provenance):
    """Write TTUR-format statistics (`mu`, `sigma` in float64, plus scalar provenance entries
    of at most PROVENANCE_BYTES) to exactly `path` (numpy.savez would append .npz to a name
    without it). `pool_3`: the (N, d) feature vectors too, float32, for KID and
    precision/recall against this file. `spatial`: ADM's spatial statistics (mu_s, sigma_s)
    too, for sFID, as ADM's reference batches hold them.

    The archive is numpy.savez's (stored members, zip64 headers), written here so that a write
    that fails (a full disk) also ends the archive: zipfile would otherwise try again from its
    finalizer, on a closed file, and print a traceback after the one-line error."""
    import zipfile
    from numpy.lib import format as npy_format
    arrays = _arrays(mu, sigma, pool_3, spatial, **provenance)
    with open(path, 'wb') as f:
        archive = zipfile.ZipFile(f, 'w', compression=zipfile.ZIP_STORED, allowZip64=True)
        try:
            for key, value in arrays.items():
                with archive.open(key + '.npy', 'w', force_zip64=True) as member:
                    npy_format.write_array(member, value, allow_pickle=False)
            archive.close()
        except BaseException:
            try:
                archive.close()  # ends the archive even if this write fails too
            except Exception:
                pass
            raise


def inputs_provenance(paths):
    """The inputs as one provenance string (JSON), cut to fit PROVENANCE_BYTES."""
    text = json.dumps(list(paths))
    limit = PROVENANCE_BYTES // 4 - 1  # numpy stores str as UTF-32
    return text if len(text) <= limit else text[:limit - 3] + '...'


__all__ = ['MAX_FEATURES', 'PROVENANCE_BYTES', 'STATISTICS_KEYS', 'StatisticsFile',
           'inputs_provenance', 'load_statistics', 'npz_keys', 'open_statistics',
           'read_provenance', 'save_statistics']
