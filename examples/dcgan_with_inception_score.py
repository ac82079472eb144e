#!/usr/bin/env python
"""A small DCGAN on CIFAR-10 whose Inception Score is logged and plotted during training.

    python examples/dcgan_with_inception_score.py --epoch 20   # model in its default place
    python examples/dcgan_with_inception_score.py --model M --smoke   # few CPU iterations

The score comes from InceptionScoreExtension: the model file is loaded once, the samples are
drawn in inference mode with their own random state, and LogReport/PrintReport/PlotReport show
inception_score/mean, inception_score/std and inception_score/time (seconds per evaluation;
a progress bar shows on stderr when it is a terminal).
"""
import argparse
import os
import sys

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training
from chainer.training import extensions

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from inception_score import InceptionScoreExtension  # noqa: E402


class Generator(chainer.Chain):
    def __init__(self, n_hidden=100, ch=128):
        super().__init__()
        self.n_hidden, self.ch = n_hidden, ch
        with self.init_scope():
            self.l0 = L.Linear(n_hidden, 4 * 4 * ch * 2)
            self.dc1 = L.Deconvolution2D(ch * 2, ch, 4, 2, 1)
            self.dc2 = L.Deconvolution2D(ch, ch // 2, 4, 2, 1)
            self.dc3 = L.Deconvolution2D(ch // 2, 3, 4, 2, 1)
            self.bn0 = L.BatchNormalization(4 * 4 * ch * 2)
            self.bn1 = L.BatchNormalization(ch)
            self.bn2 = L.BatchNormalization(ch // 2)

    def make_hidden(self, batchsize):
        # numpy's global random state: InceptionScoreExtension gives it its own seed.
        return self.xp.asarray(numpy.random.normal(0, 1, (batchsize, self.n_hidden))
                               .astype(numpy.float32))

    def __call__(self, z):
        h = F.reshape(F.relu(self.bn0(self.l0(z))), (len(z), self.ch * 2, 4, 4))
        h = F.relu(self.bn1(self.dc1(h)))
        h = F.relu(self.bn2(self.dc2(h)))
        return F.tanh(self.dc3(h))  # images in [-1, 1]


class Discriminator(chainer.Chain):
    def __init__(self, ch=64):
        super().__init__()
        with self.init_scope():
            self.c0 = L.Convolution2D(3, ch, 4, 2, 1)
            self.c1 = L.Convolution2D(ch, ch * 2, 4, 2, 1)
            self.c2 = L.Convolution2D(ch * 2, ch * 4, 4, 2, 1)
            self.l3 = L.Linear(None, 1)

    def __call__(self, x):
        h = F.leaky_relu(self.c0(x))
        h = F.leaky_relu(self.c1(h))
        h = F.leaky_relu(self.c2(h))
        return self.l3(h)


class GANUpdater(training.updaters.StandardUpdater):
    def __init__(self, iterator, gen_opt, dis_opt, device):
        super().__init__(iterator, {'gen': gen_opt, 'dis': dis_opt}, device=device)

    def update_core(self):
        gen_opt, dis_opt = self.get_optimizer('gen'), self.get_optimizer('dis')
        gen, dis = gen_opt.target, dis_opt.target
        batch = self.get_iterator('main').next()
        x_real = self.converter(batch, self.device)
        y_real = dis(x_real)
        x_fake = gen(gen.make_hidden(len(x_real)))
        y_fake = dis(x_fake)
        loss_dis = F.mean(F.softplus(-y_real)) + F.mean(F.softplus(y_fake))
        loss_gen = F.mean(F.softplus(-y_fake))
        dis.cleargrads()
        loss_dis.backward()
        dis_opt.update()
        gen.cleargrads()
        loss_gen.backward()
        gen_opt.update()
        chainer.report({'loss_gen': loss_gen, 'loss_dis': loss_dis})


def cifar10_train(data=None):
    """The CIFAR-10 training images as float32 in [-1, 1]: from a local copy when there is
    one (read without unpickling anything but plain arrays), else from Chainer's download."""
    from inception_score import cifar10
    path = data if data is not None else cifar10.find()
    if path is None:
        train, _ = chainer.datasets.get_cifar10(withlabel=False, scale=2.0)
        return train - 1.0
    return cifar10.load(path, 'train').astype(numpy.float32) / 127.5 - 1.0


def main(argv=None):
    import inception_score
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--version', action='version',
                   version='%(prog)s ' + inception_score.__version__)
    p.add_argument('--model', default=None,
                   help='inception_score model file (default: the default model file, where '
                        'inception-score-download writes it)')
    p.add_argument('--data', default=None,
                   help='CIFAR-10 (cifar-10-python.tar.gz, cifar-10-binary.tar.gz or an '
                        'extracted folder); default: found as example.py finds it, else '
                        'downloaded by Chainer')
    p.add_argument('--gpu', type=int, default=-1)
    p.add_argument('--epoch', type=int, default=20)
    p.add_argument('--batchsize', type=int, default=64)
    p.add_argument('--is-samples', type=int, default=5000)
    p.add_argument('--out', default='result')
    p.add_argument('--smoke', action='store_true',
                   help='3 iterations on random data with 8 scored samples (CPU test)')
    args = p.parse_args(argv)

    if args.smoke:
        train = numpy.random.RandomState(0).uniform(-1, 1, (16, 3, 32, 32)).astype(
            numpy.float32)
        gen, dis = Generator(ch=16), Discriminator(ch=8)
        args.batchsize, n_samples, splits = 4, 8, 2
        stop, every = (3, 'iteration'), (1, 'iteration')
    else:
        train = cifar10_train(args.data)
        gen, dis = Generator(), Discriminator()
        n_samples, splits = args.is_samples, 10
        stop, every = (args.epoch, 'epoch'), (1, 'epoch')
    device = chainer.get_device('@cupy:{}'.format(args.gpu) if args.gpu >= 0 else '@numpy')
    gen.to_device(device)
    dis.to_device(device)
    gen_opt = chainer.optimizers.Adam(alpha=2e-4, beta1=0.5)
    gen_opt.setup(gen)
    dis_opt = chainer.optimizers.Adam(alpha=2e-4, beta1=0.5)
    dis_opt.setup(dis)
    updater = GANUpdater(chainer.iterators.SerialIterator(train, args.batchsize), gen_opt,
                         dis_opt, device)
    trainer = training.Trainer(updater, stop, out=args.out)
    trainer.extend(InceptionScoreExtension(lambda n: gen(gen.make_hidden(n)), args.model,
                                           n_samples=n_samples, batch_size=100 if not
                                           args.smoke else 4, splits=splits,
                                           value_range=(-1, 1), device=device),
                   trigger=every)
    trainer.extend(extensions.LogReport(trigger=every))
    trainer.extend(extensions.PrintReport(['epoch', 'iteration', 'loss_gen', 'loss_dis',
                                           'inception_score/mean', 'inception_score/std']),
                   trigger=every)
    if extensions.PlotReport.available():
        trainer.extend(extensions.PlotReport(['inception_score/mean'], every[1],
                                             trigger=every, file_name='inception_score.png'))
    trainer.run()


if __name__ == '__main__':
    main()
