"""The source documents' models, in PyTorch (and in Keras where a chapter trains with Keras).

Every PyTorch model returns logits; the softmax of the source documents' last layer is part
of the loss (:mod:`optlib.experiments.trainer`), which is the same function computed in a
numerically safer order.

- :func:`dense_softmax` -- the course notes' iris model (seed 003): one dense layer, 4 -> 3,
  softmax.  Weights and bias start from a normal distribution with standard deviation 0.1
  truncated at two standard deviations, as the course's ``tf.random.truncated_normal``.
- :func:`small_cnn` -- the article's MNIST model (seed 001): Conv2D(32, 3x3, ReLU, valid),
  MaxPool 2x2, Flatten, Dense(10, softmax); 54,410 parameters on 28x28x1 input, as the
  article's ``model.summary()`` shows.  Keras's initialisation by default (Glorot-uniform
  weights, zero biases), since the article's model was a Keras one.
- :func:`allconv_elu` -- the blog's all-convolutional ELU net (seed 002), after Springenberg et
  al.'s All-CNN: no dense layer and no max-pooling, 3x3 convolutions with ELU, average pooling
  between stages, a 1x1 convolution to the classes and a global average.  The blog gives its
  net only as a picture for 32x32x3 CIFAR-10; the adaptation to other inputs is: a stage is
  two 3x3 'same' convolutions (ELU) and a 2x2 average pool, and there are as many stages as
  halve the side down to about 7 (at least one): two for 32x32 (32 -> 16 -> 8) and for 28x28
  (28 -> 14 -> 7), one for 8x8.  Widths double per stage from ``width`` (default 32); the blog
  trained without dropout or batch norm, and so does this net.
"""

from __future__ import annotations

import math

__all__ = ["build", "keras_build", "names", "dense_softmax", "small_cnn", "allconv_elu", "allconv_stages",
           "keras_dense_softmax", "keras_small_cnn", "count_parameters"]


def names():
    return ("dense_softmax", "small_cnn", "allconv_elu")


def build(name, input_shape, classes, **kwargs):
    """The PyTorch model ``name`` for inputs of ``input_shape`` (without the batch axis:
    ``(features,)`` or ``(C, H, W)``) and ``classes`` outputs."""
    if name == "dense_softmax":
        return dense_softmax(int(math.prod(input_shape)), classes, **kwargs)
    if name == "small_cnn":
        c, h, w = input_shape
        return small_cnn(c, (h, w), classes, **kwargs)
    if name == "allconv_elu":
        c, h, w = input_shape
        return allconv_elu(c, (h, w), classes, **kwargs)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(names())}")


def keras_build(name, input_shape, classes, **kwargs):
    """The Keras model ``name`` (softmax output) for channels-first ``input_shape``, as
    :func:`build` takes it: the Keras model gets the same data channels-last."""
    if name == "dense_softmax":
        return keras_dense_softmax(int(math.prod(input_shape)), classes, **kwargs)
    if name == "small_cnn":
        c, h, w = input_shape
        return keras_small_cnn((h, w, c), classes, **kwargs)
    raise ValueError(f"no Keras builder for model {name!r}; Keras has: dense_softmax, small_cnn")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def dense_softmax(in_features=4, classes=3, std=0.1):
    """One dense layer (logits; the softmax is in the loss), initialised as the course did."""
    import torch
    from torch import nn

    model = nn.Sequential(nn.Flatten(), nn.Linear(in_features, classes))
    with torch.no_grad():
        for p in model.parameters():
            nn.init.trunc_normal_(p, std=std, a=-2 * std, b=2 * std)
    return model


def _keras_init(module):
    from torch import nn

    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def small_cnn(in_channels=1, image_size=(28, 28), classes=10, filters=32, init="keras"):
    """Conv2D(32, 3x3, ReLU) -> MaxPool 2 -> Flatten -> Dense(classes) (logits)."""
    from torch import nn

    h, w = image_size
    model = nn.Sequential(
        nn.Conv2d(in_channels, filters, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(filters * ((h - 2) // 2) * ((w - 2) // 2), classes),
    )
    _init(model, init)
    return model


def _init(model, init):
    if init == "keras":
        _keras_init(model)
    elif init != "torch":
        raise ValueError(f"init must be 'keras' or 'torch', not {init!r}")


def allconv_stages(side):
    """Number of (conv, conv, avg-pool) stages for an input of side ``side``: halve while the
    side stays at least 7, at least once."""
    stages = 0
    while side // 2 >= 7 or stages == 0:
        side //= 2
        stages += 1
    return stages


def allconv_elu(in_channels=3, image_size=(32, 32), classes=10, width=32, init="torch"):
    """The all-convolutional ELU net adapted to the input size (see the module docstring)."""
    from torch import nn

    layers, c = [], in_channels
    for s in range(allconv_stages(min(image_size))):
        out = width * 2**s
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.ELU(), nn.Conv2d(out, out, 3, padding=1), nn.ELU(),
                   nn.AvgPool2d(2)]
        c = out
    layers += [nn.Conv2d(c, c, 3, padding=1), nn.ELU(), nn.Conv2d(c, c, 1), nn.ELU(),
               nn.Conv2d(c, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    model = nn.Sequential(*layers)
    _init(model, init)
    return model


# ---------------------------------------------------------------------------------------
# Keras builders (channels-last inputs; see optlib.experiments.data.channels_last)

def keras_dense_softmax(in_features=4, classes=3, std=0.1, seed=None):
    """The course's iris model in Keras: Dense(classes, softmax), truncated-normal init."""
    import keras

    init = keras.initializers.TruncatedNormal(stddev=std, seed=seed)
    return keras.Sequential([keras.Input((in_features,)),
                             keras.layers.Dense(classes, activation="softmax",
                                                kernel_initializer=init, bias_initializer=init)])


def keras_small_cnn(input_shape=(28, 28, 1), classes=10, filters=32):
    """The article's model exactly as it wrote it (channels-last input)."""
    import keras

    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(filters, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(classes, activation="softmax"),
    ])
