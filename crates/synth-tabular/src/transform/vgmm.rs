//! One-dimensional variational Gaussian mixture with a Dirichlet-process (stick-breaking)
//! weight prior and a Normal-Wishart prior on each component, fitted by mean-field
//! variational inference (Bishop 2006, ch. 10.2; Blei & Jordan 2006 for the stick-breaking
//! weights). Initialised from a seeded 1-D k-means.
//!
//! Priors, as the spec fixes them: weight concentration gamma0 (0.001), mean prior = data
//! mean with precision beta0 = 1, Wishart degrees of freedom nu0 = 1 and scale = data variance.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use synth_core::seed::{SeededRng, seeded_rng};
use synth_core::valid::{ConfigError, Validate, counts, non_negative, positive};

/// Settings of the mixture fit (defaults from the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureConfig {
    /// Upper bound on components (also bounded by the number of rows).
    pub max_modes: usize,
    /// Dirichlet-process concentration of the weight prior.
    pub weight_concentration_prior: f64,
    /// Convergence threshold on the change of the variational lower bound per iteration.
    pub tol: f64,
    /// Added to every component variance.
    pub reg_covar: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Components with a weight at or below this are dropped (at least one is kept).
    pub weight_threshold: f64,
    /// Columns with more values are fitted on a seeded subsample of this size.
    pub max_fit_rows: usize,
}

impl Default for MixtureConfig {
    fn default() -> Self {
        MixtureConfig {
            max_modes: 10,
            weight_concentration_prior: 1e-3,
            tol: 1e-3,
            reg_covar: 1e-6,
            max_iter: 100,
            weight_threshold: 5e-3,
            max_fit_rows: 100_000,
        }
    }
}

/// A fitted mixture. All components are stored (responsibilities are normalised over all of
/// them, as the variational posterior defines); `kept` lists those used as modes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixture {
    /// Posterior mean of each component's mean.
    pub means: Vec<f64>,
    /// Standard deviation of each component (from the posterior expected precision).
    pub stds: Vec<f64>,
    /// Expected mixture weights.
    pub weights: Vec<f64>,
    /// Constant part of each component's expected log density:
    /// E[log pi_k] + E[log lambda_k] / 2 - 1 / (2 beta_k).
    log_offsets: Vec<f64>,
    /// Indices of the components kept as modes, in component order.
    pub kept: Vec<usize>,
    /// Iterations run, and whether the tolerance was reached.
    pub iterations: usize,
    /// Whether the fit converged before `max_iter`.
    pub converged: bool,
}

/// Checked on its own (the context is empty); keys are the `[transformer]` section's.
impl Validate for MixtureConfig {
    type Context = ();

    fn check(&self, _: &()) -> Result<(), ConfigError> {
        counts("transformer.max_modes", &[self.max_modes])?;
        positive(
            "transformer.weight_concentration_prior",
            self.weight_concentration_prior,
        )?;
        positive("transformer.tol", self.tol)?;
        positive("transformer.reg_covar", self.reg_covar)?;
        non_negative("transformer.weight_threshold", self.weight_threshold)
    }
}

impl Mixture {
    /// Fits the mixture to `values` (finite, at least one).
    pub fn fit(values: &[f64], config: &MixtureConfig, seed: u64) -> Mixture {
        assert!(!values.is_empty(), "mixture fit needs at least one value");
        let mut rng = seeded_rng(seed);
        let sample;
        let x: &[f64] = if values.len() > config.max_fit_rows {
            sample = subsample(values, config.max_fit_rows, &mut rng);
            &sample
        } else {
            values
        };
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let k = config.max_modes.min(x.len()).max(1);
        if var == 0.0 || k == 1 {
            return Mixture::single(mean, var + config.reg_covar);
        }
        let prior = Prior {
            gamma0: config.weight_concentration_prior,
            mean,
            beta0: 1.0,
            nu0: 1.0,
            scale: var,
        };

        let labels = kmeans_1d(x, k, &mut rng);
        let mut resp = vec![0.0; x.len() * k];
        for (i, &l) in labels.iter().enumerate() {
            resp[i * k + l] = 1.0;
        }
        let mut post = Posterior::update(x, &resp, k, &prior, config.reg_covar);
        let mut previous = f64::NEG_INFINITY;
        let (mut iterations, mut converged) = (0, false);
        while iterations < config.max_iter {
            iterations += 1;
            let offsets = post.log_offsets();
            let entropy = responsibilities(x, &post.m, &post.cov, &offsets, &mut resp);
            post = Posterior::update(x, &resp, k, &prior, config.reg_covar);
            let bound = entropy + post.bound_terms();
            if (bound - previous).abs() < config.tol {
                converged = true;
                break;
            }
            previous = bound;
        }
        let weights = post.expected_weights();
        let mut kept: Vec<usize> = (0..k)
            .filter(|&j| weights[j] > config.weight_threshold)
            .collect();
        if kept.is_empty() {
            kept.push(argmax(&weights));
        }
        Mixture {
            means: post.m.clone(),
            stds: post.cov.iter().map(|c| c.sqrt()).collect(),
            weights,
            log_offsets: post.log_offsets(),
            kept,
            iterations,
            converged,
        }
    }

    fn single(mean: f64, cov: f64) -> Mixture {
        Mixture {
            means: vec![mean],
            stds: vec![cov.sqrt()],
            weights: vec![1.0],
            log_offsets: vec![0.0],
            kept: vec![0],
            iterations: 0,
            converged: true,
        }
    }

    /// One standard normal mode: the mixture of a column whose statistics are not published
    /// (a differentially private model's transformer).
    pub fn standard() -> Mixture {
        Mixture {
            means: vec![0.0],
            stds: vec![1.0],
            weights: vec![1.0],
            log_offsets: vec![0.0],
            kept: vec![0],
            iterations: 0,
            converged: true,
        }
    }

    /// One mode centred on `[min, max]` with a quarter of the range as its deviation, so that
    /// the encoding's scalar `(x - mean) / (4 sd)` spans [-0.5, 0.5] over the range: the
    /// mixture of a column whose public bounds replace a fitted mixture (DP-SGD).
    pub fn spanning(min: f64, max: f64) -> Mixture {
        Mixture {
            means: vec![(min + max) / 2.0],
            stds: vec![((max - min) / 4.0).max(1e-6)],
            ..Mixture::standard()
        }
    }

    /// Checks a mixture read from a file: one mean, standard deviation, weight and offset per
    /// component, all finite, deviations positive, weights non-negative, and at least one kept
    /// mode, each naming a component, in increasing order.
    pub fn check(&self) -> std::result::Result<(), String> {
        let k = self.means.len();
        if k == 0 {
            return Err("the mixture has no components".into());
        }
        if self.stds.len() != k || self.weights.len() != k || self.log_offsets.len() != k {
            return Err(format!(
                "the mixture lists {k} means but {} standard deviations, {} weights and {} offsets",
                self.stds.len(),
                self.weights.len(),
                self.log_offsets.len()
            ));
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !(finite(&self.means) && finite(&self.log_offsets)) {
            return Err("the mixture holds a non-finite mean or offset".into());
        }
        if !self.stds.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(
                "the mixture holds a standard deviation that is not finite and positive".into(),
            );
        }
        if !self.weights.iter().all(|w| w.is_finite() && *w >= 0.0) {
            return Err("the mixture holds a weight that is not finite and non-negative".into());
        }
        if self.kept.is_empty() || self.kept.iter().any(|&j| j >= k) {
            return Err(format!(
                "the kept modes {:?} must be non-empty and below {k}",
                self.kept
            ));
        }
        if self.kept.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "the kept modes {:?} are not in increasing order",
                self.kept
            ));
        }
        if self.kept_weights().iter().any(|w| !w.is_finite()) {
            return Err("the kept modes have zero total weight".into());
        }
        Ok(())
    }

    /// Number of kept modes.
    pub fn n_modes(&self) -> usize {
        self.kept.len()
    }

    /// Mean and standard deviation of kept mode `mode`.
    pub fn mode(&self, mode: usize) -> (f64, f64) {
        let j = self.kept[mode];
        (self.means[j], self.stds[j])
    }

    /// Posterior probability of each kept mode for `x`: responsibilities over all components,
    /// restricted to the kept ones, plus 1e-6, renormalised. Written into `out`.
    pub fn mode_probabilities(&self, x: f64, out: &mut [f64]) {
        let logp: Vec<f64> = (0..self.means.len())
            .map(|j| self.log_offsets[j] - 0.5 * (x - self.means[j]).powi(2) / self.stds[j].powi(2))
            .collect();
        let max = logp.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = logp.iter().map(|l| (l - max).exp()).sum();
        for (o, &j) in out.iter_mut().zip(&self.kept) {
            *o = (logp[j] - max).exp() / total + 1e-6;
        }
        let s: f64 = out.iter().sum();
        out.iter_mut().for_each(|o| *o /= s);
    }

    /// Kept-mode weights, renormalised to sum to one.
    pub fn kept_weights(&self) -> Vec<f64> {
        let w: Vec<f64> = self.kept.iter().map(|&j| self.weights[j]).collect();
        let s: f64 = w.iter().sum();
        w.into_iter().map(|v| v / s).collect()
    }
}

struct Prior {
    gamma0: f64,
    mean: f64,
    beta0: f64,
    nu0: f64,
    scale: f64,
}

/// Variational posterior parameters of every component.
struct Posterior {
    /// Stick-breaking Beta parameters.
    a: Vec<f64>,
    b: Vec<f64>,
    beta: Vec<f64>,
    m: Vec<f64>,
    nu: Vec<f64>,
    /// Inverse Wishart scale divided by nu: the variance with E[lambda] = 1 / cov.
    cov: Vec<f64>,
}

impl Posterior {
    /// The M-step: posterior parameters from responsibilities `resp` (n x k, row-major).
    fn update(x: &[f64], resp: &[f64], k: usize, prior: &Prior, reg_covar: f64) -> Posterior {
        let mut nk = vec![10.0 * f64::EPSILON; k];
        let mut sx = vec![0.0; k];
        for (i, &v) in x.iter().enumerate() {
            let r = &resp[i * k..(i + 1) * k];
            for j in 0..k {
                nk[j] += r[j];
                sx[j] += r[j] * v;
            }
        }
        let xbar: Vec<f64> = (0..k).map(|j| sx[j] / nk[j]).collect();
        let mut sk = vec![0.0; k];
        for (i, &v) in x.iter().enumerate() {
            let r = &resp[i * k..(i + 1) * k];
            for j in 0..k {
                sk[j] += r[j] * (v - xbar[j]).powi(2);
            }
        }
        let mut tail = 0.0;
        let mut b = vec![0.0; k];
        for j in (0..k).rev() {
            b[j] = prior.gamma0 + tail;
            tail += nk[j];
        }
        let a = nk.iter().map(|n| 1.0 + n).collect();
        let beta: Vec<f64> = nk.iter().map(|n| prior.beta0 + n).collect();
        let nu: Vec<f64> = nk.iter().map(|n| prior.nu0 + n).collect();
        let m = (0..k)
            .map(|j| (prior.beta0 * prior.mean + nk[j] * xbar[j]) / beta[j])
            .collect();
        let cov = (0..k)
            .map(|j| {
                let s = sk[j] / nk[j] + reg_covar;
                let shift = nk[j] * prior.beta0 / beta[j] * (xbar[j] - prior.mean).powi(2);
                (prior.scale + nk[j] * s + shift) / nu[j]
            })
            .collect();
        Posterior {
            a,
            b,
            beta,
            m,
            nu,
            cov,
        }
    }

    /// E[log pi_k] + E[log lambda_k] / 2 - 1 / (2 beta_k) for every component.
    fn log_offsets(&self) -> Vec<f64> {
        let mut stick_rest = 0.0;
        (0..self.a.len())
            .map(|j| {
                let total = digamma(self.a[j] + self.b[j]);
                let log_pi = digamma(self.a[j]) - total + stick_rest;
                stick_rest += digamma(self.b[j]) - total;
                let log_lambda =
                    digamma(0.5 * self.nu[j]) + (2.0 / self.nu[j]).ln() - self.cov[j].ln();
                log_pi + 0.5 * log_lambda - 0.5 / self.beta[j]
            })
            .collect()
    }

    /// The parameter-dependent terms of the variational lower bound (up to a constant):
    /// minus the log normalisers of the Wishart and stick-breaking Beta posteriors, and
    /// minus half the log mean precisions.
    fn bound_terms(&self) -> f64 {
        (0..self.a.len())
            .map(|j| {
                let nu = self.nu[j];
                // log normaliser of a 1-D Wishart(W, nu) with W = 1 / (nu * cov)
                let log_wishart_norm = -(nu * (-0.5 * self.cov[j].ln() - 0.5 * nu.ln())
                    + 0.5 * nu * std::f64::consts::LN_2
                    + libm::lgamma(0.5 * nu));
                let log_beta = libm::lgamma(self.a[j]) + libm::lgamma(self.b[j])
                    - libm::lgamma(self.a[j] + self.b[j]);
                -log_wishart_norm - log_beta - 0.5 * self.beta[j].ln()
            })
            .sum()
    }

    /// Expected stick-breaking weights, normalised.
    fn expected_weights(&self) -> Vec<f64> {
        let mut rest = 1.0;
        let mut w: Vec<f64> = (0..self.a.len())
            .map(|j| {
                let v = self.a[j] / (self.a[j] + self.b[j]);
                let wj = v * rest;
                rest *= 1.0 - v;
                wj
            })
            .collect();
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= s);
        w
    }
}

/// The E-step: writes normalised responsibilities into `resp` and returns their entropy
/// `-sum r log r` (the data-dependent term of the lower bound).
fn responsibilities(x: &[f64], m: &[f64], cov: &[f64], offsets: &[f64], resp: &mut [f64]) -> f64 {
    let k = m.len();
    let half_precision: Vec<f64> = cov.iter().map(|c| 0.5 / c).collect();
    let mut total = 0.0;
    for (i, &v) in x.iter().enumerate() {
        let r = &mut resp[i * k..(i + 1) * k];
        let mut max = f64::NEG_INFINITY;
        for j in 0..k {
            r[j] = offsets[j] - half_precision[j] * (v - m[j]).powi(2);
            max = max.max(r[j]);
        }
        let mut s = 0.0;
        for rj in r.iter_mut() {
            *rj = (*rj - max).exp();
            s += *rj;
        }
        for rj in r.iter_mut() {
            *rj /= s;
            if *rj > 0.0 {
                total -= *rj * rj.ln();
            }
        }
    }
    total
}

/// Seeded 1-D k-means (k-means++ seeding, Lloyd iterations); returns each value's cluster.
fn kmeans_1d(x: &[f64], k: usize, rng: &mut SeededRng) -> Vec<usize> {
    let mut centers = vec![x[rng.random_range(0..x.len())]];
    let mut d2: Vec<f64> = x.iter().map(|v| (v - centers[0]).powi(2)).collect();
    while centers.len() < k {
        let total: f64 = d2.iter().sum();
        if total == 0.0 {
            break;
        }
        let mut target = rng.random::<f64>() * total;
        let mut pick = x.len() - 1;
        for (i, d) in d2.iter().enumerate() {
            target -= d;
            if target <= 0.0 {
                pick = i;
                break;
            }
        }
        let c = x[pick];
        centers.push(c);
        for (d, v) in d2.iter_mut().zip(x) {
            *d = d.min((v - c).powi(2));
        }
    }
    let mut labels = vec![0; x.len()];
    for _ in 0..100 {
        let mut changed = false;
        for (l, v) in labels.iter_mut().zip(x) {
            let best = nearest(&centers, *v);
            changed |= best != *l;
            *l = best;
        }
        let mut sum = vec![0.0; centers.len()];
        let mut count = vec![0usize; centers.len()];
        for (&l, v) in labels.iter().zip(x) {
            sum[l] += v;
            count[l] += 1;
        }
        for j in 0..centers.len() {
            if count[j] > 0 {
                centers[j] = sum[j] / count[j] as f64;
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

fn nearest(centers: &[f64], v: f64) -> usize {
    let dist = |c: &f64| (v - c).abs();
    let mut best = 0;
    for j in 1..centers.len() {
        if dist(&centers[j]) < dist(&centers[best]) {
            best = j;
        }
    }
    best
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |best, j| if v[j] > v[best] { j } else { best })
}

fn subsample(values: &[f64], n: usize, rng: &mut SeededRng) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    for i in 0..n {
        let j = rng.random_range(i..idx.len());
        idx.swap(i, j);
    }
    idx[..n].iter().map(|&i| values[i]).collect()
}

/// The digamma function psi(x) for x > 0: upward recurrence to x >= 10, then the asymptotic
/// series ln x - 1/(2x) - sum B_2n / (2n x^2n).
fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let series = f
        * (1.0 / 12.0
            - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 / x - series
}

#[cfg(test)]
mod tests {
    use super::*;

    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    /// Draws from a mixture of normals with Box-Muller, seeded.
    fn mixture_sample(parts: &[(f64, f64, f64)], n: usize, seed: u64) -> Vec<f64> {
        let mut rng = seeded_rng(seed);
        (0..n)
            .map(|_| {
                let mut u = rng.random::<f64>();
                let &(mu, sd, _) = parts
                    .iter()
                    .find(|p| {
                        u -= p.2;
                        u < 0.0
                    })
                    .unwrap_or(parts.last().unwrap());
                let (u1, u2) = (rng.random::<f64>().max(1e-300), rng.random::<f64>());
                mu + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect()
    }

    #[test]
    fn digamma_matches_closed_forms() {
        assert!((digamma(1.0) + EULER_GAMMA).abs() < 1e-12);
        assert!((digamma(0.5) + EULER_GAMMA + 2.0 * 2f64.ln()).abs() < 1e-12);
        // psi(n) = H_{n-1} - gamma
        let h9: f64 = (1..10).map(|i| 1.0 / i as f64).sum();
        assert!((digamma(10.0) - (h9 - EULER_GAMMA)).abs() < 1e-12);
        // recurrence psi(x + 1) = psi(x) + 1/x at a non-integer point
        assert!((digamma(3.7) - digamma(2.7) - 1.0 / 2.7).abs() < 1e-12);
        assert!((digamma(1e-3) - (-1000.0 - EULER_GAMMA + 1.644_934 * 1e-3)).abs() < 1e-5);
    }

    #[test]
    fn recovers_a_known_two_component_mixture() {
        let x = mixture_sample(&[(-5.0, 1.0, 0.3), (3.0, 0.5, 0.7)], 5000, 1);
        let mix = Mixture::fit(&x, &MixtureConfig::default(), 42);
        assert!(
            mix.n_modes() < 10,
            "spurious components must be pruned: {mix:?}"
        );
        for (mu, sd, w) in [(-5.0, 1.0, 0.3), (3.0, 0.5, 0.7)] {
            // the kept modes near each true component carry its weight and its spread
            let near: Vec<usize> = (0..mix.n_modes())
                .filter(|&m| (mix.mode(m).0 - mu).abs() < 2.0 * sd)
                .collect();
            let weight: f64 = near.iter().map(|&m| mix.weights[mix.kept[m]]).sum();
            assert!(
                (weight - w).abs() < 0.03,
                "weight near {mu}: {weight} ({mix:?})"
            );
            let heaviest = *near
                .iter()
                .max_by(|&&a, &&b| mix.weights[mix.kept[a]].total_cmp(&mix.weights[mix.kept[b]]))
                .unwrap();
            let (m, s) = mix.mode(heaviest);
            assert!(
                (m - mu).abs() < 0.15 && (s - sd).abs() < 0.25 * sd,
                "mode {m} {s} vs {mu} {sd}"
            );
        }
        for &j in &mix.kept {
            assert!(mix.weights[j] > 0.005);
        }
        let far: f64 = (0..mix.means.len())
            .filter(|&j| (mix.means[j] + 5.0).abs() > 3.0 && (mix.means[j] - 3.0).abs() > 1.5)
            .map(|j| mix.weights[j])
            .sum();
        assert!(far < 0.005, "weight on spurious components {far}");
    }

    #[test]
    fn kept_modes_reproduce_a_single_gaussian() {
        let x = mixture_sample(&[(10.0, 2.0, 1.0)], 3000, 3);
        let mix = Mixture::fit(&x, &MixtureConfig::default(), 7);
        let w = mix.kept_weights();
        let mean: f64 = (0..mix.n_modes()).map(|m| w[m] * mix.mode(m).0).sum();
        let second: f64 = (0..mix.n_modes())
            .map(|m| w[m] * (mix.mode(m).1.powi(2) + mix.mode(m).0.powi(2)))
            .sum();
        let sd = (second - mean * mean).sqrt();
        assert!(
            (mean - 10.0).abs() < 0.1 && (sd - 2.0).abs() < 0.1,
            "mean {mean} sd {sd}: {mix:?}"
        );
        assert_eq!(
            mix.iterations, 100,
            "the summed lower bound keeps improving by more than tol"
        );
    }

    #[test]
    fn constant_and_tiny_inputs_give_one_mode() {
        let mix = Mixture::fit(&[4.0; 100], &MixtureConfig::default(), 0);
        assert_eq!((mix.n_modes(), mix.mode(0).0), (1, 4.0));
        let mix = Mixture::fit(&[2.0], &MixtureConfig::default(), 0);
        assert_eq!(mix.mode(0).0, 2.0);
        let mix = Mixture::fit(&[1.0, 5.0], &MixtureConfig::default(), 0);
        assert!(mix.n_modes() >= 1 && mix.stds.iter().all(|s| s.is_finite()));
    }

    #[test]
    fn fit_is_seeded_and_probabilities_normalised() {
        let x = mixture_sample(&[(0.0, 1.0, 0.5), (6.0, 1.0, 0.5)], 2000, 5);
        let a = Mixture::fit(&x, &MixtureConfig::default(), 11);
        assert_eq!(a, Mixture::fit(&x, &MixtureConfig::default(), 11));
        let mut p = vec![0.0; a.n_modes()];
        a.mode_probabilities(6.0, &mut p);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let best = argmax(&p);
        assert!((a.mode(best).0 - 6.0).abs() < 1.5, "{:?} {:?}", p, a);
    }

    #[test]
    fn subsampled_fit_still_finds_the_modes() {
        let x = mixture_sample(&[(-3.0, 0.5, 0.5), (3.0, 0.5, 0.5)], 20_000, 9);
        let config = MixtureConfig {
            max_fit_rows: 2_000,
            ..Default::default()
        };
        let mix = Mixture::fit(&x, &config, 1);
        for mu in [-3.0, 3.0] {
            assert!(
                (0..mix.n_modes()).any(|m| (mix.mode(m).0 - mu).abs() < 0.2),
                "{mix:?}"
            );
        }
    }
}
