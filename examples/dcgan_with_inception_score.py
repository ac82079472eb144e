#!/usr/bin/env python
"""A small DCGAN on CIFAR-10 whose Inception Score is logged and plotted during training.

    python examples/dcgan_with_inception_score.py --epoch 20   # model in its default place
    python examples/dcgan_with_inception_score.py --model M --smoke   # few CPU iterations

The score comes from InceptionScoreExtension: the model file is loaded once, the samples are
drawn in inference mode with their own random state, and LogReport/PrintReport/PlotReport show
inception_score/mean, inception_score/std and inception_score/time (seconds per evaluation).
When stderr is a terminal, progress bars show the training iterations and each evaluation
(--quiet hides them). CIFAR-10 and the model are found as example.py finds them; errors are
one line, as the command line's.
"""
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


def cifar10_train(data, allow_download=True, progress=True):
    """The CIFAR-10 training images as float32 in [-1, 1], from `data` (a path, or the result
    of cifar10.plan: found or downloaded as example.py does), read without unpickling anything
    but plain arrays."""
    from inception_score import cifar10
    path, to_download = (data, False) if isinstance(data, str) else data
    if to_download:
        path = cifar10.obtain(path, progress=progress)
    return cifar10.load(path, 'train').astype(numpy.float32) / 127.5 - 1.0


def parser():
    from inception_score.cli import Parser, _positive
    from inception_score.modelfile import default_model_help
    p = Parser(prog='dcgan_with_inception_score.py', description=__doc__.splitlines()[0])
    p.add_argument('--model', default=None,
                   help='inception_score model file (default: {})'.format(default_model_help()))
    p.add_argument('--data', metavar='PATH', default=None,
                   help='CIFAR-10: cifar-10-python.tar.gz, cifar-10-binary.tar.gz, an extracted '
                        "folder of either, or Chainer's cifar-10.npz (default: found or "
                        'downloaded as example.py does)')
    p.add_argument('--no-download', action='store_true',
                   help='never download CIFAR-10: say where to put it instead')
    p.add_argument('--gpu', type=int, default=-1, help='GPU id, -1 for CPU (default)')
    p.add_argument('--epoch', type=_positive, default=20, help='epochs to train (default 20)')
    p.add_argument('--batchsize', type=_positive, default=64,
                   help='training images per iteration (default 64)')
    p.add_argument('--is-samples', type=_positive, default=5000, metavar='N',
                   help='generated images scored after each epoch, in 10 splits (default '
                        '5000; about N / 9 seconds on a 2-core CPU)')
    p.add_argument('--out', default='result', metavar='FOLDER',
                   help='folder for the log and inception_score.png (default: result)')
    p.add_argument('--smoke', action='store_true',
                   help='3 iterations on random data with 8 scored samples (CPU test)')
    p.add_argument('--quiet', action='store_true',
                   help='no progress bars (by default they are drawn on stderr when it is a '
                        'terminal: the training images, and each evaluation)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def check_paths(args):
    """What the run reads (the model, CIFAR-10) and writes (in --out), decided before any
    work: an output never lands on an input. Returns (model path or None when there is none
    to find, CIFAR-10 plan (path, to_download))."""
    from inception_score import cifar10, files, modelfile
    data = (None, False) if args.smoke else cifar10.plan(
        args.data, allow_download=not args.no_download)
    model = modelfile.find_model() if args.model is None else args.model
    inputs = [('--model', model)]
    inputs += [('CIFAR-10 copy', p) for p in (cifar10.inputs(data[0]) if data[0] else [])]
    files.check_output_folder('--out', args.out, OUTPUTS, inputs)
    return model, data


OUTPUTS = ('log', 'inception_score.png')  # what LogReport and PlotReport write in --out


def train(args):
    from inception_score.report import progress_bar
    model, data = check_paths(args)
    progress = not args.quiet and sys.stderr.isatty()  # as the extension: never in job logs
    if args.smoke:
        train = numpy.random.RandomState(0).uniform(-1, 1, (16, 3, 32, 32)).astype(
            numpy.float32)
        gen, dis = Generator(ch=16), Discriminator(ch=8)
        args.batchsize, n_samples, splits = 4, 8, 2
        stop, every = (3, 'iteration'), (1, 'iteration')
    else:
        train = cifar10_train(data, progress=not args.quiet)
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
    trainer.extend(InceptionScoreExtension(lambda n: gen(gen.make_hidden(n)), model,
                                           n_samples=n_samples, batch_size=100 if not
                                           args.smoke else 4, splits=splits,
                                           value_range=(-1, 1), device=device,
                                           progress=progress),
                   trigger=every)
    trainer.extend(extensions.LogReport(trigger=every))
    trainer.extend(extensions.PrintReport(['epoch', 'iteration', 'loss_gen', 'loss_dis',
                                           'inception_score/mean', 'inception_score/std']),
                   trigger=every)
    if extensions.PlotReport.available():
        trainer.extend(extensions.PlotReport(['inception_score/mean'], every[1],
                                             trigger=every, file_name='inception_score.png'))
    # Training between two reports (an epoch of CIFAR-10 is 782 iterations) as a bar of images
    # on stderr, like the evaluations' (Chainer 7's ProgressBar ignores its `out`: stdout).
    total = stop[0] * (args.batchsize if stop[1] == 'iteration' else len(train))
    with progress_bar(total, disable=not progress, desc='training') as bar:
        if bar is not None:
            trainer.extend(lambda t: bar(min(t.updater.iteration * args.batchsize, total),
                                         total), name='training_progress')
        trainer.run()


def main(argv=None):
    from inception_score.cli import run
    return run(train, argv, parser, 'dcgan_with_inception_score.py')


if __name__ == '__main__':
    sys.exit(main())
