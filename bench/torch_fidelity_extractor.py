"""torch-fidelity's InceptionV3 feature extractor holding our arrays: no weights download.

torch-fidelity ports the same graph (inception-2015-12-05) to PyTorch with torchvision's module
names; its BasicConv2d is conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU, its fc the logit
layer. So a model's arrays map one to one onto its state_dict, and both networks can be
compared (speed, drift) with the very same weights.
"""
import os
import tempfile

import numpy

from inception_score import topology

TORCH_FIDELITY_EPS = 0.001  # BasicConv2d's BatchNorm2d eps, fixed in torch-fidelity
FEATURES = ('2048', 'logits_unbiased')  # pool_3 and the bias-free logits, as we name them

# torch-fidelity's BasicConv2d modules in graph order: the stem, then each mixed block's
# convs in the order topology lists them (branches in concat order).
_STEM = ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3')
_A = ('branch1x1', 'branch5x5_1', 'branch5x5_2', 'branch3x3dbl_1', 'branch3x3dbl_2',
      'branch3x3dbl_3', 'branch_pool')
_B = ('branch3x3', 'branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3')
_C = ('branch1x1', 'branch7x7_1', 'branch7x7_2', 'branch7x7_3', 'branch7x7dbl_1',
      'branch7x7dbl_2', 'branch7x7dbl_3', 'branch7x7dbl_4', 'branch7x7dbl_5', 'branch_pool')
_D = ('branch3x3_1', 'branch3x3_2', 'branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3',
      'branch7x7x3_4')
_E = ('branch1x1', 'branch3x3_1', 'branch3x3_2a', 'branch3x3_2b', 'branch3x3dbl_1',
      'branch3x3dbl_2', 'branch3x3dbl_3a', 'branch3x3dbl_3b', 'branch_pool')
_BLOCKS = (('Mixed_5b', _A), ('Mixed_5c', _A), ('Mixed_5d', _A), ('Mixed_6a', _B),
           ('Mixed_6b', _C), ('Mixed_6c', _C), ('Mixed_6d', _C), ('Mixed_6e', _C),
           ('Mixed_7a', _D), ('Mixed_7b', _E), ('Mixed_7c', _E))


def module_names():
    """{our conv unit name: torch-fidelity's BasicConv2d module path}, in graph order."""
    paths = list(_STEM) + [block + '.' + branch for block, branches in _BLOCKS
                           for branch in branches]
    units = topology.convs()
    assert len(units) == len(paths), (len(units), len(paths))
    return {unit.name: path for unit, path in zip(units, paths)}


def state_dict(arrays):
    """torch-fidelity's state_dict holding `arrays` ({HDF5 path: array}, as the core takes).

    A unit whose eps is not torch-fidelity's 0.001 gets running_var + eps - 0.001, so that
    running_var + 0.001 is our avg_var + eps.
    """
    import torch

    def tensor(value):
        return torch.from_numpy(numpy.ascontiguousarray(value, dtype=numpy.float32))

    out = {}
    for unit in topology.convs():
        prefix = module_names()[unit.name]
        names = topology.unit_arrays(unit)
        eps = float(arrays[names['eps']])
        var = numpy.asarray(arrays[names['avg_var']], numpy.float64) + (eps - TORCH_FIDELITY_EPS)
        out.update({
            prefix + '.conv.weight': tensor(arrays[names['W']]),  # (cout, cin, kh, kw) both
            prefix + '.bn.weight': tensor(arrays[names['gamma']]),
            prefix + '.bn.bias': tensor(arrays[names['beta']]),
            prefix + '.bn.running_mean': tensor(arrays[names['avg_mean']]),
            prefix + '.bn.running_var': tensor(var),
            prefix + '.bn.num_batches_tracked': torch.tensor(0),
        })
    out['fc.weight'] = tensor(arrays[topology.LOGIT_W])  # (1008, 2048) both
    out['fc.bias'] = torch.zeros(topology.NUM_CLASSES)  # unused by 'logits_unbiased'
    return out


def build(arrays, device='cpu'):
    """FeatureExtractorInceptionV3 with our arrays on `device`, giving FEATURES."""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'weights.pth')
        torch.save(state_dict(arrays), path)  # it reads its weights only from a file
        extractor = FeatureExtractorInceptionV3('inception-v3-compat', list(FEATURES),
                                                feature_extractor_weights_path=path)
    return extractor.to(device)


def forward(extractor, images):
    """(pool_3, logits) as torch tensors for uint8 NCHW `images` (a tensor on its device)."""
    import torch
    with torch.no_grad():
        return extractor(images)
