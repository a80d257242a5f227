//! Converting zero-concentrated DP to approximate DP, and back.

/// The `epsilon` of `(epsilon, delta)`-DP implied by `rho`-zCDP: the conversion of Canonne,
/// Kamath and Steinke (2020, Proposition 12),
/// `epsilon = min over alpha > 1 of alpha rho + (ln(1 / delta) + (alpha - 1) ln(1 - 1 / alpha) - ln(alpha)) / (alpha - 1)`,
/// which is never above Bun and Steinke's `rho + 2 sqrt(rho ln(1 / delta))`.
pub fn epsilon_of(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let at = |alpha: f64| {
        alpha * rho
            + ((1.0 / delta).ln() + (alpha - 1.0) * (1.0 - 1.0 / alpha).ln() - alpha.ln())
                / (alpha - 1.0)
    };
    // the objective is convex in alpha: a golden-section search on a log scale of alpha - 1
    let (mut lo, mut hi) = ((1e-9f64).ln(), (1e9f64).ln());
    let f = |t: f64| at(1.0 + t.exp());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if f(a) < f(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    f((lo + hi) / 2.0).max(0.0)
}

/// The largest `rho` whose [`epsilon_of`] at `delta` is at most `epsilon` (by bisection:
/// `epsilon_of` grows with rho).
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, epsilon.max(1.0));
    while epsilon_of(hi, delta) < epsilon {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if epsilon_of(mid, delta) <= epsilon {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversion against a brute-force minimum over a fine grid of alpha, and under
    /// Bun and Steinke's closed form (which it improves on).
    #[test]
    fn conversion_matches_a_grid_minimum_and_beats_the_simple_bound() {
        for (rho, delta) in [(0.01f64, 1e-6f64), (0.1, 1e-9), (1.0, 1e-5), (5.0, 1e-3)] {
            let grid = (1..200_000)
                .map(|i| 1.0 + f64::from(i) * 1e-3)
                .map(|alpha: f64| {
                    alpha * rho
                        + ((1.0 / delta).ln() + (alpha - 1.0) * (1.0 - 1.0 / alpha).ln()
                            - alpha.ln())
                            / (alpha - 1.0)
                })
                .fold(f64::INFINITY, f64::min);
            let eps = epsilon_of(rho, delta);
            assert!(
                (eps - grid).abs() < 1e-4 * grid,
                "{rho} {delta}: {eps} vs {grid}"
            );
            let simple = rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt();
            assert!(eps < simple, "{eps} {simple}");
        }
    }

    #[test]
    fn rho_for_inverts_the_conversion() {
        for (eps, delta) in [(0.1, 1e-9), (1.0, 1e-9), (10.0, 1e-6)] {
            let rho = rho_for(eps, delta);
            assert!(
                (epsilon_of(rho, delta) - eps).abs() < 1e-9 * eps.max(1.0),
                "{eps}"
            );
            assert!(epsilon_of(rho * 1.001, delta) > eps);
        }
        // a worked value: epsilon 1 at delta 1e-9 allows rho of about 0.0116 by the simple
        // bound's inverse ((sqrt(L + eps) - sqrt(L))^2, L = ln 1e9) and a little more here
        let l = (1e9f64).ln();
        let simple = ((l + 1.0).sqrt() - l.sqrt()).powi(2);
        let rho = rho_for(1.0, 1e-9);
        assert!(rho > simple && rho < 1.3 * simple, "{rho} {simple}");
    }
}
