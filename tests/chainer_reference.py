"""An independent forward pass through plain chainer.functions (convolution_2d,
fixed_batch_normalization, TF-style pools), used only to cross-check the core's kernels."""
import chainer
import chainer.functions as F

from inception_score import topology
from inception_score.network import preprocess


def logits(model, x):
    """Bias-free logits of `model` (an Inception) for NCHW images in [0, 255]."""
    def conv_unit(unit, h):
        conv, bn = model.unit(unit.name)
        h = F.convolution_2d(h, conv.W, stride=unit.stride, pad=conv.pad)
        h = F.fixed_batch_normalization(h, bn.gamma, bn.beta, bn.avg_mean, bn.avg_var, bn.eps)
        return F.relu(h)

    def pool(layer, h):
        pad = topology.padding_amount(layer)
        if layer.kind == 'max':
            # SAME max pools pad with -inf in TF; cover_all=False gives TF's output sizes.
            return F.max_pooling_2d(h, layer.ksize, layer.stride, pad, cover_all=False)
        # TF's SAME AvgPool divides by the in-bounds count: pad_value=None does the same.
        return F.average_pooling_nd(h, layer.ksize, layer.stride, pad, pad_value=None)

    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = topology.walk(preprocess(x), conv_unit, pool, lambda block, hs: F.concat(hs, 1))
        return model.logit(F.reshape(h, (len(h), topology.NUM_FEATURES))).array
