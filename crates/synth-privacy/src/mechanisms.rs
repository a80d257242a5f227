//! The mechanisms: Gaussian noise, the exponential mechanism, and the threshold of private
//! partition selection.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use statrs::distribution::{ContinuousCDF, Normal};

/// The noise scale that makes the Gaussian mechanism `rho`-zCDP for a query of L2
/// sensitivity `sensitivity`: `sigma = sensitivity / sqrt(2 rho)`.
pub fn gaussian_sigma(sensitivity: f64, rho: f64) -> f64 {
    sensitivity / (2.0 * rho).sqrt()
}

/// The rho of the Gaussian mechanism with noise `sigma` on a query of L2 sensitivity
/// `sensitivity`: `sensitivity^2 / (2 sigma^2)`.
pub fn gaussian_rho(sensitivity: f64, sigma: f64) -> f64 {
    sensitivity * sensitivity / (2.0 * sigma * sigma)
}

/// One draw of `N(0, sigma^2)`.
pub fn gaussian_noise(sigma: f64, rng: &mut impl Rng) -> f64 {
    sigma * rng.sample::<f64, _>(StandardNormal)
}

/// The rho of one exponential-mechanism selection at `epsilon`: `epsilon^2 / 8` (Cesar and
/// Rogers 2021, for scores of bounded range, as every score here is).
pub fn exponential_rho(epsilon: f64) -> f64 {
    epsilon * epsilon / 8.0
}

/// The exponential mechanism's selection probabilities: candidate `i` with probability
/// proportional to `exp(epsilon * scores[i] / (2 * sensitivity))`.
pub fn exponential_probabilities(scores: &[f64], epsilon: f64, sensitivity: f64) -> Vec<f64> {
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scores
        .iter()
        .map(|s| (epsilon * (s - top) / (2.0 * sensitivity)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// One selection of the exponential mechanism (see [`exponential_probabilities`]); `scores`
/// must not be empty.
pub fn exponential_select(
    scores: &[f64],
    epsilon: f64,
    sensitivity: f64,
    rng: &mut impl Rng,
) -> usize {
    let probabilities = exponential_probabilities(scores, epsilon, sensitivity);
    let mut u: f64 = rng.random();
    for (i, p) in probabilities.iter().enumerate() {
        u -= p;
        if u < 0.0 {
            return i;
        }
    }
    probabilities.len() - 1
}

/// The threshold of Gaussian partition selection: a category whose count plus
/// `N(0, sigma^2)` noise exceeds it is released. A category that only one row holds passes it
/// with probability `delta`, which is what a table with that row adds to the release of the
/// one without it (Gopi et al. 2020; Wilson et al. 2020).
pub fn partition_threshold(sigma: f64, delta: f64) -> f64 {
    let normal = Normal::standard();
    1.0 + sigma * normal.inverse_cdf(1.0 - delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gaussian_scale_and_rho_are_inverse_closed_forms() {
        // sensitivity 1, rho 0.5: sigma 1 exactly
        assert!((gaussian_sigma(1.0, 0.5) - 1.0).abs() < 1e-12);
        assert!((gaussian_sigma(2.0, 0.02) - 10.0).abs() < 1e-12);
        assert!((gaussian_rho(2.0, 10.0) - 0.02).abs() < 1e-15);
        // the draws have the stated spread
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = 100_000;
        let draws: Vec<f64> = (0..n).map(|_| gaussian_noise(3.0, &mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.05 && (var.sqrt() - 3.0).abs() < 0.03,
            "{mean} {var}"
        );
    }

    #[test]
    fn exponential_mechanism_selects_at_its_closed_form_probabilities() {
        let scores = [0.0, 2.0, 4.0];
        let p = exponential_probabilities(&scores, 1.0, 1.0);
        // weights exp(0), exp(1), exp(2)
        let z = 1.0 + 1f64.exp() + 2f64.exp();
        for (got, want) in p.iter().zip([1.0 / z, 1f64.exp() / z, 2f64.exp() / z]) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let n = 60_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[exponential_select(&scores, 1.0, 1.0, &mut rng)] += 1;
        }
        for (c, want) in counts.iter().zip(&p) {
            assert!((*c as f64 / n as f64 - want).abs() < 0.01, "{counts:?}");
        }
        assert!((exponential_rho(2.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn partition_threshold_passes_a_single_row_with_probability_delta() {
        // 1 + sigma * z where P(N(0,1) > z) = delta; z(1e-3) = 3.0902
        let t = partition_threshold(2.0, 1e-3);
        assert!((t - (1.0 + 2.0 * 3.090_232)).abs() < 1e-4, "{t}");
        let normal = Normal::new(1.0, 2.0).unwrap();
        assert!(((1.0 - normal.cdf(t)) - 1e-3).abs() < 1e-9);
    }
}
