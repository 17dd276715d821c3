"""Why the seed-002 rerun's final runs flush subnormal floats to zero on the CPU.

An ELU network whose weights have grown (as they do under Adam at a large learning rate)
sends many pre-activations far below zero, where ``exp`` underflows into float32 subnormals
(below 1.18e-38); x86 CPUs compute with those in microcode, many times slower.  This times
one forward and backward step of the all-conv ELU net (width 16, batch 64, one thread) with
its initial weights and with every weight scaled up, each with and without
``torch.set_flush_denormal``, interleaved, and prints the medians and their ratios.  Run:

    python benchmarks/subnormals.py [--repeat 15] [--scale 8]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from optlib.experiments import models, trainer


def step_ms(net, x, y, flush, repeat):
    times = []
    with trainer.subnormals_flushed(flush):  # the training loop's own switch
        for _ in range(repeat + 2):  # two warm-up steps
            t0 = time.perf_counter()
            net.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[2:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--scale", type=float, default=8.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = models.build("allconv_elu", (1, 28, 28), 10, width=16)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, 1 thread")
    for scale in (1.0, args.scale):
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(scale)
        plain, flushed = (step_ms(net, x, y, flush, args.repeat) for flush in (False, True))
        print(f"weights x{scale:g}: {plain:.1f} ms a step, {flushed:.1f} ms flushed; "
              f"ratio {plain / flushed:.2f}")


if __name__ == "__main__":
    main()
