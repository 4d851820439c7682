# Regenerates the golden rows of shapiro-wilk.test.ts (not run by the tests; needs scipy, e.g. Debian's
# python3-scipy): /usr/bin/python3 test/core/guard/shapiro-wilk-golden.py
# scipy.stats.shapiro runs AS R94 in single precision (swilk.f), so its W has ~7 digits; the second
# pair of numbers restates AS R94 in float64 with scipy's ndtri and norm.sf, for tight comparison.
import math

import numpy as np
from scipy.special import ndtri
from scipy.stats import norm, shapiro


def sample(kind, n, seed):
    # Park-Miller minimal standard generator: exact in doubles, so the TypeScript test draws the same values.
    s = seed

    def u():
        nonlocal s
        s = (s * 48271) % 2147483647
        return s / 2147483647

    out = []
    for _ in range(n):
        if kind == "normal":
            u1 = u()
            u2 = u()
            out.append(math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2))
        elif kind == "uniform":
            out.append(u())
        else:
            out.append(-math.log(u()))
    return out


def poly(c, x):
    return sum(ci * x**i for i, ci in enumerate(c))


def sw64(x):
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = len(x)
    h = n // 2
    m = ndtri((np.arange(1, h + 1) - 0.375) / (n + 0.25))
    summ2 = 2 * np.sum(m * m)
    ss = math.sqrt(summ2)
    rsn = 1 / math.sqrt(n)
    a = np.zeros(h)
    if n == 3:
        a[0] = math.sqrt(0.5)
    else:
        a1 = poly([0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056], rsn) - m[0] / ss
        if n > 5:
            a2 = -m[1] / ss + poly([0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633], rsn)
            fac = math.sqrt((summ2 - 2 * m[0] ** 2 - 2 * m[1] ** 2) / (1 - 2 * a1**2 - 2 * a2**2))
            a[1] = a2
            first = 2
        else:
            fac = math.sqrt((summ2 - 2 * m[0] ** 2) / (1 - 2 * a1**2))
            first = 1
        a[0] = a1
        a[first:] = -m[first:] / fac
    full = np.zeros(n)
    full[:h] = -a
    full[n - h :] = a[::-1]
    xc = x - x.mean()
    w = (full @ xc) ** 2 / (full @ full) / (xc @ xc)
    if n == 3:
        return w, max(0, 6 / math.pi * (math.asin(math.sqrt(w)) - math.pi / 3))
    y = math.log(1 - w)
    if n <= 11:
        g = poly([-2.273, 0.459], n)
        y = -math.log(g - y)
        mu = poly([0.544, -0.39978, 0.025054, -6.714e-4], n)
        s = math.exp(poly([1.3822, -0.77857, 0.062767, -0.0020322], n))
    else:
        ln = math.log(n)
        mu = poly([-1.5861, -0.31082, -0.083751, 0.0038915], ln)
        s = math.exp(poly([-0.4803, -0.082676, 0.0030302], ln))
    return w, norm.sf(y, mu, s)


for kind in ["normal", "uniform", "exponential"]:
    for n in [3, 4, 5, 6, 10, 11, 12, 100, 1000, 5000]:
        seed = 1000 + n + {"normal": 1, "uniform": 2, "exponential": 3}[kind]
        x = sample(kind, n, seed)
        w32, p32 = shapiro(x)
        w, p = sw64(x)
        print(f'  ["{kind}", {n}, {seed}, {float(w32)!r}, {float(p32)!r}, {float(w)!r}, {float(p)!r}],')
