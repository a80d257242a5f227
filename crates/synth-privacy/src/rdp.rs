//! The Rényi-DP accountant of DP-SGD: the Poisson-subsampled Gaussian mechanism (Mironov,
//! Talwar and Zhang 2019), composed over steps and converted to `(epsilon, delta)` (Balle et
//! al. 2020, Theorem 21), and the noise that meets a target epsilon.

use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma;

/// The Rényi orders the conversion minimises over: 1.1 to 10.9 by tenths, then 12 to 63 (the
/// orders Opacus and TensorFlow Privacy use by default, so the figures are comparable).
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((12..64).map(f64::from))
        .collect()
}

/// `ln(exp(a) + exp(b))`.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(exp(a) - exp(b))` for `a >= b`.
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

/// `ln(erfc(x))`, with the asymptotic expansion where erfc underflows.
fn log_erfc(x: f64) -> f64 {
    let value = erfc(x);
    if value > 1e-300 {
        value.ln()
    } else {
        let x2 = x * x;
        -x2 - x.ln() - 0.5 * std::f64::consts::PI.ln() + (1.0 - 0.5 / x2 + 0.75 / (x2 * x2)).ln()
    }
}

/// `ln |binomial(alpha, i)|` for real `alpha` and integer `i`, and its sign.
fn log_binomial(alpha: f64, i: u32) -> (f64, f64) {
    // C(alpha, i) = prod_{k < i} (alpha - k) / (k + 1)
    let (mut log, mut sign) = (0.0, 1.0);
    for k in 0..i {
        let factor = alpha - f64::from(k);
        if factor == 0.0 {
            return (f64::NEG_INFINITY, 0.0);
        }
        sign *= factor.signum();
        log += factor.abs().ln() - f64::from(k + 1).ln();
    }
    (log, sign)
}

/// `ln A_alpha` of the subsampled Gaussian (sampling rate `q`, noise multiplier `sigma`):
/// for an integer order the finite binomial sum `sum_k C(alpha, k) (1-q)^(alpha-k) q^k
/// exp((k^2 - k) / (2 sigma^2))`; for a fractional one the two-sided series of Mironov et al.
/// (2019, Section 3.3), summed until its terms fall below `exp(-30)`.
fn log_a(q: f64, sigma: f64, alpha: f64) -> f64 {
    if alpha.fract() == 0.0 {
        let n = alpha as u32;
        return (0..=n).fold(f64::NEG_INFINITY, |acc, k| {
            let kf = f64::from(k);
            let log_binom = ln_gamma(alpha + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(alpha - kf + 1.0);
            let term = log_binom
                + kf * q.ln()
                + (alpha - kf) * (1.0 - q).ln()
                + (kf * kf - kf) / (2.0 * sigma * sigma);
            log_add(acc, term)
        });
    }
    let (mut a0, mut a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    for i in 0u32.. {
        let (log_coef, sign) = log_binomial(alpha, i);
        let (fi, j) = (f64::from(i), alpha - f64::from(i));
        let t0 = log_coef + fi * q.ln() + j * (1.0 - q).ln();
        let t1 = log_coef + j * q.ln() + fi * (1.0 - q).ln();
        let e0 = 0.5f64.ln() + log_erfc((fi - z0) / (2f64.sqrt() * sigma));
        let e1 = 0.5f64.ln() + log_erfc((z0 - j) / (2f64.sqrt() * sigma));
        let s0 = t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + e0;
        let s1 = t1 + (j * j - j) / (2.0 * sigma * sigma) + e1;
        if sign > 0.0 {
            (a0, a1) = (log_add(a0, s0), log_add(a1, s1));
        } else {
            (a0, a1) = (log_sub(a0, s0), log_sub(a1, s1));
        }
        if s0.max(s1) < -30.0 || i > 10_000 {
            break;
        }
    }
    log_add(a0, a1)
}

/// The Rényi DP of `steps` compositions of the Poisson-subsampled Gaussian mechanism at
/// `order` (sampling rate `q`, noise multiplier `sigma`: noise standard deviation over the
/// clipping norm).
pub fn rdp(q: f64, sigma: f64, steps: usize, order: f64) -> f64 {
    let per_step = if q == 0.0 {
        0.0
    } else if q == 1.0 {
        order / (2.0 * sigma * sigma)
    } else {
        log_a(q, sigma, order) / (order - 1.0)
    };
    per_step * steps as f64
}

/// The `epsilon` at `delta` of `steps` steps of DP-SGD with Poisson sampling rate `q` and
/// noise multiplier `sigma`: the smallest over [`default_orders`] of
/// `rdp - (ln delta + ln order) / (order - 1) + ln((order - 1) / order)`.
pub fn dp_sgd_epsilon(q: f64, sigma: f64, steps: usize, delta: f64) -> f64 {
    default_orders()
        .into_iter()
        .map(|order| {
            rdp(q, sigma, steps, order) - (delta.ln() + order.ln()) / (order - 1.0)
                + ((order - 1.0) / order).ln()
        })
        .filter(|e| e.is_finite())
        .fold(f64::INFINITY, f64::min)
        .max(0.0)
}

/// The smallest noise multiplier whose [`dp_sgd_epsilon`] is at most `epsilon` (bisection
/// on a log scale; epsilon falls as the noise grows), or `None` when even a noise multiplier
/// of 1000 is not enough.
pub fn dp_sgd_noise(q: f64, steps: usize, epsilon: f64, delta: f64) -> Option<f64> {
    let (mut lo, mut hi) = (0.01f64, 1000.0f64);
    if dp_sgd_epsilon(q, hi, steps, delta) > epsilon {
        return None;
    }
    if dp_sgd_epsilon(q, lo, steps, delta) <= epsilon {
        return Some(lo);
    }
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if dp_sgd_epsilon(q, mid, steps, delta) <= epsilon {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without subsampling the Gaussian mechanism's RDP is `order / (2 sigma^2)` (Mironov
    /// 2017), and the series for a fractional order tends to its integer neighbours.
    #[test]
    fn closed_forms_and_continuity() {
        assert!((rdp(1.0, 2.0, 3, 5.0) - 3.0 * 5.0 / 8.0).abs() < 1e-12);
        // the integer sum at q = 1 is the closed form too
        assert!((log_a(1.0 - 1e-12, 2.0, 5.0) / 4.0 - 5.0 / 8.0).abs() < 1e-6);
        // a tiny sampling rate: RDP about 2 q^2 alpha / sigma^2... at least it vanishes
        assert!(rdp(1e-6, 1.0, 1, 4.0) < 1e-9);
        for (q, sigma) in [(0.01, 1.0), (0.05, 0.8), (0.002, 2.0)] {
            let below = rdp(q, sigma, 1, 3.0);
            let near = rdp(q, sigma, 1, 3.0 + 1e-6);
            assert!(
                (near - below).abs() < 1e-4 * below.max(1e-12),
                "{q} {sigma}: {below} {near}"
            );
            let a = rdp(q, sigma, 1, 2.5);
            assert!(
                a > rdp(q, sigma, 1, 2.0) && a < rdp(q, sigma, 1, 3.0),
                "monotone in the order"
            );
        }
    }

    /// Google's dp-accounting 0.6 (its RDP accountant, run by
    /// `scripts/accountant_reference.py`, which printed these figures) for the same
    /// (q, sigma, steps, delta): within 1%.
    #[test]
    fn agrees_with_dp_accounting() {
        for &(q, sigma, steps, delta, reference) in REFERENCE {
            let ours = dp_sgd_epsilon(q, sigma, steps, delta);
            assert!(
                (ours - reference).abs() <= 0.01 * reference,
                "{q} {sigma} {steps}: {ours} vs {reference}"
            );
        }
    }

    #[test]
    fn calibrated_noise_meets_the_target() {
        for (q, steps, epsilon) in [(0.02, 1500, 1.0), (0.02, 1500, 10.0), (0.005, 10_000, 3.0)] {
            let sigma = dp_sgd_noise(q, steps, epsilon, 1e-6).unwrap();
            assert!(dp_sgd_epsilon(q, sigma, steps, 1e-6) <= epsilon);
            assert!(dp_sgd_epsilon(q, sigma * 0.99, steps, 1e-6) > epsilon);
        }
        assert_eq!(dp_sgd_noise(1.0, 1_000_000, 1e-3, 1e-9), None);
    }

    /// `(q, sigma, steps, delta, epsilon)` from dp-accounting.
    const REFERENCE: &[(f64, f64, usize, f64, f64)] = &[
        (0.01, 1.0, 1000, 1e-5, 2.101367),
        (0.02, 1.1, 1500, 1e-6, 4.934587),
        (0.02, 0.7, 1500, 1e-6, 13.851342),
        (0.004, 0.9, 10000, 1e-5, 2.964756),
        (0.05, 2.0, 500, 1e-9, 3.962229),
        (0.019, 4.0, 2600, 1e-9, 1.467025),
        (0.1, 1.3, 100, 1e-6, 5.578890),
        (0.001, 0.6, 20000, 1e-5, 3.860497),
    ];
}
