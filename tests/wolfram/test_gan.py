"""NetGANOperator: its losses (float64 gradient checks), its layers, and a GAN trained on a 1-D mixture."""

import numpy as np
import pytest

from minidl.functional.gan import gan_example_losses, gan_gradient, gan_loss
from minidl.testing import check_op
from minidl.wolfram.gan import BatchPair, GANLoss, GradientReversal


def _reference_loss(d, kind, side):
    """A naive loop over the examples ([ref: NetGANOperator])."""
    total = 0.0
    for v in d:
        if kind == "JensenShannon":
            total += -np.log(v) if side == "real" else -np.log(1 - v)
        else:
            total += -v if side == "real" else v
    return np.asarray(total / len(d))


def _reference_gradient(d, kind, side):
    out = np.empty_like(d)
    for i, v in enumerate(d):
        if kind == "JensenShannon":
            out[i] = -1 / v if side == "real" else 1 / (1 - v)
        else:
            out[i] = -1.0 if side == "real" else 1.0
    return out / len(d)


@pytest.mark.parametrize("kind", ["JensenShannon", "Wasserstein"])
@pytest.mark.parametrize("side", ["real", "fake"])
def test_gan_losses_against_the_loop_and_finite_differences(kind, side, backend, rng):
    errors = check_op(gan_loss, _reference_loss, {"d": (6,)}, kwargs={"kind": kind, "side": side},
                      gradient=gan_gradient, reference_gradient=_reference_gradient, wrt=("d",),
                      inputs={"d": lambda r, s: r.uniform(0.1, 0.9, s)}, backend=backend, rng=rng)
    assert errors["forward"] <= 1e-10


def test_saturated_discriminator_gives_finite_losses():
    d = np.array([0.0, 1.0])
    assert np.isfinite(gan_example_losses(d, "JensenShannon", "real")).all()
    assert np.isfinite(gan_gradient(d, "JensenShannon", "fake")).all()


def test_gan_loss_layer_splits_real_and_fake_halves(rng):
    y = rng.uniform(0.1, 0.9, (8, 1))
    layer = GANLoss("JensenShannon")
    real, fake = y[:4, 0], y[4:, 0]
    np.testing.assert_allclose(layer.loss_real(y), -np.log(real).mean(), rtol=1e-14)
    np.testing.assert_allclose(layer.loss_fake(y), -np.log(1 - fake).mean(), rtol=1e-14)
    np.testing.assert_allclose(layer.loss_array(y, None), -np.log(real).mean() - np.log(1 - fake).mean())
    np.testing.assert_allclose(layer.example_losses(y, None).mean(), layer.loss_array(y, None), rtol=1e-14)
    g = layer.loss_gradient(y, None)
    assert g.shape == y.shape
    np.testing.assert_allclose(g[:4, 0], -1 / (4 * real))
    np.testing.assert_allclose(g[4:, 0], 1 / (4 * (1 - fake)))


def test_gan_loss_layer_refuses_unknown_losses_and_vector_scores():
    with pytest.raises(ValueError, match="loss: got 'KL'; allowed: 'JensenShannon', 'Wasserstein'"):
        GANLoss("KL")
    with pytest.raises(ValueError, match="one score per example"):
        GANLoss("Wasserstein", name="Loss").initialize((3,))


def test_reversal_flips_the_gradient_and_the_pair_stacks_and_splits(rng):
    x = rng.normal(size=(3, 2))
    rev = GradientReversal()
    np.testing.assert_array_equal(rev.forward(x), x)
    np.testing.assert_array_equal(rev.backward(x), -x)
    pair = BatchPair(name="pair")
    assert pair.initialize([(2,), (2,)]) == (2,)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    y = pair.forward([a, b], training=True)
    np.testing.assert_array_equal(y, np.concatenate([a, b]))
    da, db = pair.backward(y * 2)
    np.testing.assert_array_equal(da, 2 * a)
    np.testing.assert_array_equal(db, 2 * b)
    with pytest.raises(ValueError, match="layer 'pair' input 'fake': got 3, expected 2"):
        BatchPair(name="pair").initialize([(2,), (3,)])


# ------------------------------------------------------------------------------------------------ the operator
def _nets(sigmoid=True):
    from minidl import layers as L
    from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, NetChain

    G = NetChain([L.FeatureInput(2, normalization="none"), LinearLayer(8), ElementwiseLayer("Tanh"), LinearLayer(1)])
    D = [LinearLayer(8), ElementwiseLayer("Tanh"), LinearLayer(1)] + ([ElementwiseLayer("LogisticSigmoid")]
                                                                     if sigmoid else [])
    return G, D


def _losses(gan, s, z):
    from minidl.wolfram.gan import gan_outputs

    o = gan_outputs(gan, s, z)
    return o["LossReal"].mean(), o["LossFake"].mean()


@pytest.mark.parametrize("sigmoid", [True, False])
def test_operator_gradients_descend_for_the_discriminator_and_ascend_lossfake_for_the_generator(sigmoid, rng):
    from minidl.wolfram.gan import NetGANOperator

    gan = NetGANOperator(list(_nets(sigmoid)))
    assert gan.gan_loss == ("JensenShannon" if sigmoid else "Wasserstein")     # Automatic from the last layer
    assert [x.name for x in gan.input_layers] == ["Sample", "Latent"]
    gan.initialize(rng=np.random.default_rng(0), dtype="float64")
    s, z = rng.normal(size=(5, 1)), rng.normal(size=(5, 2))
    y = gan.forward({"Sample": s, "Latent": z}, training=True)
    real, fake = _losses(gan, s, z)
    np.testing.assert_allclose(gan.loss_array(y, np.zeros(5)), real + fake, rtol=1e-13)
    gan.backward(y, np.zeros(5))
    grads = {k: v.copy() for k, v in gan.grads.items()}
    eps = 1e-6
    for name, p in gan.params.items():
        for idx in [(0,) * p.ndim, tuple(d - 1 for d in p.shape)]:
            old = p[idx]
            p[idx] = old + eps
            up = _losses(gan, s, z)
            p[idx] = old - eps
            down = _losses(gan, s, z)
            p[idx] = old
            if name.startswith("Discriminator:"):
                expected = (up[0] + up[1] - down[0] - down[1]) / (2 * eps)     # descends LossReal + LossFake
            else:
                expected = -(up[1] - down[1]) / (2 * eps)                      # ascends LossFake (reversed)
            np.testing.assert_allclose(grads[name][idx], expected, rtol=1e-6, atol=1e-9)


def test_operator_errors():
    from minidl import layers as L
    from minidl.errors import NotSupportedYetError
    from minidl.wolfram.gan import NetGANOperator

    G, D = _nets()
    with pytest.raises(NotSupportedYetError, match="BatchNormalization"):
        NetGANOperator([G, [L.FullyConnected(4), L.BatchNormalization(), L.FullyConnected(1)]])
    with pytest.raises(ValueError, match="loss: got 'KL'"):
        NetGANOperator([G, D], "KL")
    with pytest.raises(ValueError, match="the size of port 'Latent' is not known"):
        NetGANOperator([G.layers[1:], D])
    with pytest.raises(TypeError, match=r"allowed: \[generator, discriminator\]"):
        NetGANOperator(G)


def _mixture(n, seed):
    """A 1-D mixture of two Gaussians: ½ N(−2, 0.5²) + ½ N(2, 0.5²) (mean 0, standard deviation √4.25 ≈ 2.06)."""
    r = np.random.default_rng(seed)
    return (np.where(r.integers(0, 2, n) == 1, 2.0, -2.0) + 0.5 * r.normal(size=n))[:, None], r.normal(size=(n, 1))


def _gan(hidden=16):
    from minidl import layers as L
    from minidl.wolfram.gan import NetGANOperator
    from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, NetChain

    G = NetChain([L.FeatureInput(1, normalization="none"), LinearLayer(hidden), ElementwiseLayer("Tanh"),
                  LinearLayer(hidden), ElementwiseLayer("Tanh"), LinearLayer(1)])
    D = [LinearLayer(hidden), ElementwiseLayer("Tanh"), LinearLayer(hidden), ElementwiseLayer("Tanh"), LinearLayer(1),
         ElementwiseLayer("LogisticSigmoid")]
    return NetGANOperator([G, D])


@pytest.mark.slow  # ~5 s: the GAN proof of issue 14 runs in CI's slow set
def test_gan_trained_by_nettrain_matches_the_mixtures_first_two_moments():
    """The page's example: alternating discriminator and generator updates.  Bounds: the generated mean and
    standard deviation, averaged over the last 50 of 150 rounds, within 0.25 of the data's (0 and ≈ 2.06); measured
    0.09 and 0.04 (OpenBLAS kernels Haswell and Sandybridge alike).  One round's snapshot is no test: at the
    equilibrium the generator circles the data's distribution, its standard deviation swinging by up to ±0.7 from
    one round to the next (the last round's error was 0.07 on one CPU and 0.31 on another)."""
    from minidl.wolfram import NetTrain
    from minidl.wolfram.graph import NetExtract

    S, Z = _mixture(2048, 1)
    seeds = np.random.default_rng(5).normal(size=(20000, 1))
    moments = []

    def record(progress):
        if progress["Round"] > 100:
            fake = NetExtract(progress["Net"], "Generator").forward(seeds)
            moments.append((fake.mean(), fake.std()))

    res = NetTrain(_gan(), {"Sample": S, "Latent": Z}, "All", TrainingUpdateSchedule=["Discriminator", "Generator"],
                   MaxTrainingRounds=150, BatchSize=64, LearningRate=0.005, Method=("ADAM", {"Beta1": 0.5}),
                   TrainingProgressReporting=None, WorkingPrecision="Real64",
                   TrainingProgressFunction=(record, {"Interval": "Round"}))
    assert res["TrainingUpdateSchedule"] == ["Discriminator", "Generator"]
    assert len(moments) == 50
    mean, std = np.mean(moments, axis=0)
    assert abs(mean - S.mean()) < 0.25
    assert abs(std - S.std()) < 0.25
    fake = NetExtract(res["TrainedNet"], "Generator").forward(seeds)
    assert 0.35 < np.mean(fake > 0) < 0.65                      # both modes, not one
    assert abs(res["RoundLoss"] - 2 * np.log(2)) < 0.1          # at equilibrium D ≈ ½: LossReal + LossFake ≈ 2 log 2


@pytest.mark.parametrize("schedule, frozen", [("Generator", "Discriminator:"), (["Discriminator"], "Generator:"),
                                              ([{"Discriminator": 2}, ("Generator", 1)], None)])
def test_the_schedule_keeps_arrays_outside_the_group_constant(schedule, frozen):
    from minidl.wolfram import NetTrain

    S, Z = _mixture(64, 2)
    opts = dict(MaxTrainingRounds=2, BatchSize=16, TrainingProgressReporting=None, WorkingPrecision="Real64")
    before = NetTrain(_gan(), {"Sample": S, "Latent": Z}, LearningRateMultipliers=0, **opts)   # the initial net
    after = NetTrain(_gan(), {"Sample": S, "Latent": Z}, TrainingUpdateSchedule=schedule, **opts)
    for name, value in after.params.items():
        same = np.array_equal(value, before.params[name])
        assert same == (frozen is not None and name.startswith(frozen)), name


def test_gan_loss_layer_keeps_outputlayer_loss_callable(rng):
    # the GAN loss's kind is an attribute of its own name, so OutputLayer.loss(y, t) stays the mean loss
    layer = GANLoss("Wasserstein")
    y = rng.standard_normal((6, 1))
    assert layer.gan_loss == "Wasserstein"
    assert layer.loss(y, None) == pytest.approx(float(layer.loss_array(y, None)))
