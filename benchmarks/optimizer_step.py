"""Step time of optlib's optimizers against the built-ins, as median ratios in one process.

The parameters have the shapes of a ResNet-50 (25.6M parameters in 161 tensors).  Every
variant steps the same parameters and gradients; each is warmed up, then timed ``--repeat``
times, and the median is reported with its ratio to the best torch.optim path.  Run:

    python benchmarks/optimizer_step.py [--device cuda] [--repeat 20] [--keras]

Memory traffic: an fp32 Adam step must read p, g, m, v and write p, m, v (28 bytes per
parameter); ``bytes/param`` is the median time times the measured copy bandwidth divided by
the parameter count, i.e. how many bytes a step *could* have moved in that time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import optlib.torch as ot


def resnet50_shapes():
    """Parameter shapes of torchvision's resnet50 (without torchvision)."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    inplanes = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(width, inplanes, 1, 1), (width,), (width,), (width, width, 3, 3), (width,), (width,),
                       (4 * width, width, 1, 1), (4 * width,), (4 * width,)]
            if b == 0:
                shapes += [(4 * width, inplanes, 1, 1), (4 * width,), (4 * width,)]
            inplanes = 4 * width
    return shapes + [(1000, 2048), (1000,)]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(makers, params, device, repeat, warmup=3):
    """Median step time of each optimizer, timed round-robin so that drifts in the machine's
    load affect every variant alike."""
    opts = {}
    for name, make in makers.items():
        try:
            opts[name] = make(params)
            for _ in range(warmup):
                opts[name].step()
        except (RuntimeError, ValueError) as e:  # a fused path this build or device lacks
            print(f"  {name}: unavailable ({str(e).splitlines()[0]})")
            opts.pop(name, None)
    times = {name: [] for name in opts}
    for _ in range(repeat):
        for name, opt in opts.items():
            _sync(device)
            t0 = time.perf_counter()
            opt.step()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def copy_bandwidth(n, device, repeat=10):
    """Bytes per second of a large device-to-device copy (read + write)."""
    a = torch.randn(n, device=device)
    b = torch.empty_like(a)
    ts = []
    for _ in range(repeat):
        _sync(device)
        t0 = time.perf_counter()
        b.copy_(a)
        _sync(device)
        ts.append(time.perf_counter() - t0)
    return 2 * 4 * n / statistics.median(ts)


def torch_variants(kind):
    if kind == "adam":
        builtin = lambda **kw: (lambda ps: torch.optim.Adam(ps, lr=1e-3, **kw))
        return {
            "torch for-loop": builtin(foreach=False),
            "torch foreach": builtin(foreach=True),
            "torch fused": builtin(fused=True),
            "optlib.torch.Adam": lambda ps: ot.Adam(ps, lr=1e-3),
        }
    builtin = lambda **kw: (lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, **kw))
    return {
        "torch for-loop": builtin(foreach=False),
        "torch foreach": builtin(foreach=True),
        "torch fused": builtin(fused=True),
        "optlib.torch.SGD": lambda ps: ot.SGD(ps, lr=1e-3, momentum=0.9),
    }


def bench_torch(device, repeat):
    torch.manual_seed(0)
    shapes = resnet50_shapes()
    params = [torch.randn(s, device=device, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    n = sum(p.numel() for p in params)
    bandwidth = copy_bandwidth(n, device)
    print(f"device {device}, {len(params)} tensors, {n / 1e6:.1f}M parameters, copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    rows = []
    for kind in ("adam", "sgd"):
        medians = time_steps(torch_variants(kind), params, device, repeat)
        best = min(medians[k] for k in ("torch for-loop", "torch foreach") if k in medians)
        for name, t in medians.items():
            rows.append((kind, name, t * 1e3, t / best, t * bandwidth / n))
    print(f"{'optimizer':6} {'implementation':20} {'median ms':>10} {'/ best loop|foreach':>20} {'bytes/param':>12}")
    for kind, name, ms, ratio, bpp in rows:
        print(f"{kind:6} {name:20} {ms:10.2f} {ratio:20.2f} {bpp:12.1f}")
    return rows


def bench_keras(repeat):
    """optlib.keras.Adam against keras.optimizers.Adam inside a compiled (tf.function) step."""
    import keras

    import optlib.keras as ok

    shapes = resnet50_shapes()
    rng = torch.Generator().manual_seed(0)
    steps = {}
    for name, make in (("keras Adam", lambda: keras.optimizers.Adam(1e-3)), ("optlib.keras.Adam", lambda: ok.Adam(1e-3))):
        variables = [keras.Variable(torch.randn(s, generator=rng).numpy()) for s in shapes]
        grads = [keras.ops.convert_to_tensor(torch.randn(s, generator=rng).numpy()) for s in shapes]
        opt = make()
        opt.build(variables)
        step = _compiled_apply(opt, variables)
        for _ in range(3):
            step(grads)
        steps[name] = (step, grads, variables)
    times = {name: [] for name in steps}
    for _ in range(repeat):
        for name, (step, grads, variables) in steps.items():
            t0 = time.perf_counter()
            step(grads)
            keras.ops.convert_to_numpy(variables[0][0, 0, 0, 0])  # wait for the step
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base = medians["keras Adam"]
    print(f"keras backend {keras.backend.backend()}")
    for name, t in medians.items():
        print(f"keras  {name:20} {t * 1e3:10.2f} {t / base:20.2f}")
    return medians


def _compiled_apply(opt, variables):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False)
        def step(grads):
            opt.apply(grads, variables)

        return step
    return lambda grads: opt.apply(grads, variables)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keras", action="store_true", help="also time optlib.keras.Adam against Keras's Adam")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_torch(torch.device(args.device), args.repeat)
    if args.keras:
        bench_keras(args.repeat)


if __name__ == "__main__":
    main()
