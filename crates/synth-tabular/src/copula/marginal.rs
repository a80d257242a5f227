//! A continuous column's marginal distribution: a parametric family fitted by maximum
//! likelihood or moments, or the data's own quantiles, with the CDF that turns values into
//! uniforms and the inverse CDF that turns uniforms back into values.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF, Gamma, Normal};

/// The families a continuous column's marginal can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// The parametric family with the best Kolmogorov-Smirnov fit, if it passes the test at
    /// 5%; otherwise the empirical distribution.
    Auto,
    /// Normal (mean and standard deviation by maximum likelihood).
    Norm,
    /// Normal truncated to the data's range (mean and standard deviation of the data).
    Truncnorm,
    /// Beta on the data's range (shapes by moments).
    Beta,
    /// Gamma from the data's minimum (shape and scale by moments).
    Gamma,
    /// Uniform on the data's range.
    Uniform,
    /// The data's own quantiles (up to 1,001), linear in between.
    Empirical,
}

/// The parametric families `auto` chooses from.
pub const PARAMETRIC: [Family; 5] = [
    Family::Norm,
    Family::Truncnorm,
    Family::Beta,
    Family::Gamma,
    Family::Uniform,
];

/// Quantiles an empirical marginal keeps at most.
const EMPIRICAL_QUANTILES: usize = 1001;

/// Values a Kolmogorov-Smirnov statistic is computed on at most (evenly spaced order
/// statistics of the sorted values).
const KS_POINTS: usize = 10_000;

/// A fitted marginal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Marginal {
    /// Normal.
    Norm {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Normal truncated to [low, high].
    Truncnorm {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Its standard deviation.
        sd: f64,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Beta(alpha, beta) stretched onto [low, high].
    Beta {
        /// First shape.
        alpha: f64,
        /// Second shape.
        beta: f64,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Gamma(shape, scale) shifted to start at `low`.
    Gamma {
        /// Shape.
        shape: f64,
        /// Scale.
        scale: f64,
        /// Where it starts.
        low: f64,
    },
    /// Uniform on [low, high].
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Quantiles at probabilities 0, 1/(k-1), ..., 1, ascending.
    Empirical {
        /// The quantiles.
        quantiles: Vec<f64>,
    },
}

impl Marginal {
    /// Fits `family` to `values` (sorted ascending, finite, at least one). `None` when the
    /// family cannot describe them (e.g. a beta on a constant column).
    pub fn fit(family: Family, sorted: &[f64]) -> Option<Marginal> {
        let n = sorted.len() as f64;
        let (low, high) = (*sorted.first()?, *sorted.last()?);
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let sd = var.sqrt();
        let spread = high > low && sd > 0.0;
        let marginal = match family {
            Family::Auto => return Some(Marginal::choose(sorted)),
            Family::Empirical => Marginal::Empirical {
                quantiles: quantiles(sorted),
            },
            _ if !spread => return None,
            Family::Norm => Marginal::Norm { mean, sd },
            Family::Truncnorm => Marginal::Truncnorm {
                mean,
                sd,
                low,
                high,
            },
            Family::Uniform => Marginal::Uniform { low, high },
            Family::Beta => {
                let (m, v) = ((mean - low) / (high - low), var / (high - low).powi(2));
                let common = m * (1.0 - m) / v - 1.0;
                let (alpha, beta) = (m * common, (1.0 - m) * common);
                if !(alpha > 0.0 && beta > 0.0) {
                    return None;
                }
                Marginal::Beta {
                    alpha,
                    beta,
                    low,
                    high,
                }
            }
            Family::Gamma => {
                let m = mean - low;
                if m <= 0.0 {
                    return None;
                }
                Marginal::Gamma {
                    shape: m * m / var,
                    scale: var / m,
                    low,
                }
            }
        };
        marginal.check().ok().map(|()| marginal)
    }

    /// `auto`: the parametric family with the smallest Kolmogorov-Smirnov statistic when it
    /// passes the test at 5% (D <= 1.358 / sqrt(m) on m points), else the empirical one.
    pub fn choose(sorted: &[f64]) -> Marginal {
        let points = ks_points(sorted);
        let critical = 1.358 / (points.len() as f64).sqrt();
        PARAMETRIC
            .iter()
            .filter_map(|&family| Marginal::fit(family, sorted))
            .map(|m| (m.ks_statistic(&points), m))
            .filter(|(d, _)| *d <= critical)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or_else(
                || Marginal::fit(Family::Empirical, sorted).expect("always fits"),
                |(_, m)| m,
            )
    }

    /// The family's name.
    pub fn family(&self) -> Family {
        match self {
            Marginal::Norm { .. } => Family::Norm,
            Marginal::Truncnorm { .. } => Family::Truncnorm,
            Marginal::Beta { .. } => Family::Beta,
            Marginal::Gamma { .. } => Family::Gamma,
            Marginal::Uniform { .. } => Family::Uniform,
            Marginal::Empirical { .. } => Family::Empirical,
        }
    }

    /// Kolmogorov-Smirnov statistic against sorted `points`.
    pub fn ks_statistic(&self, points: &[f64]) -> f64 {
        let n = points.len() as f64;
        points
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = self.cdf(x);
                ((i + 1) as f64 / n - f).max(f - i as f64 / n)
            })
            .fold(0.0, f64::max)
    }

    /// The cumulative probability of `x`; for values an empirical marginal holds several
    /// times, the middle of their probability range (see [`Marginal::cdf_range`]).
    pub fn cdf(&self, x: f64) -> f64 {
        let (lo, hi) = self.cdf_range(x);
        (lo + hi) / 2.0
    }

    /// The range of cumulative probabilities `x` takes: one point for the parametric
    /// families, the span of its repeats for an empirical marginal (a column's zeros).
    pub fn cdf_range(&self, x: f64) -> (f64, f64) {
        let p = match self {
            Marginal::Norm { mean, sd } => normal(*mean, *sd).cdf(x),
            Marginal::Truncnorm {
                mean,
                sd,
                low,
                high,
            } => {
                let d = normal(*mean, *sd);
                let (a, b) = (d.cdf(*low), d.cdf(*high));
                ((d.cdf(x.clamp(*low, *high)) - a) / (b - a)).clamp(0.0, 1.0)
            }
            Marginal::Beta {
                alpha,
                beta,
                low,
                high,
            } => Beta::new(*alpha, *beta)
                .expect("checked shapes")
                .cdf(((x - low) / (high - low)).clamp(0.0, 1.0)),
            Marginal::Gamma { shape, scale, low } => Gamma::new(*shape, 1.0 / scale)
                .expect("checked shape and scale")
                .cdf((x - low).max(0.0)),
            Marginal::Uniform { low, high } => ((x - low) / (high - low)).clamp(0.0, 1.0),
            Marginal::Empirical { quantiles } => return empirical_cdf(quantiles, x),
        };
        (p, p)
    }

    /// The value at cumulative probability `u` (in [0, 1]).
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        match self {
            Marginal::Norm { mean, sd } => {
                normal(*mean, *sd).inverse_cdf(u.clamp(1e-12, 1.0 - 1e-12))
            }
            Marginal::Truncnorm {
                mean,
                sd,
                low,
                high,
            } => {
                let d = normal(*mean, *sd);
                let (a, b) = (d.cdf(*low), d.cdf(*high));
                d.inverse_cdf((a + u * (b - a)).clamp(1e-12, 1.0 - 1e-12))
                    .clamp(*low, *high)
            }
            Marginal::Beta {
                alpha,
                beta,
                low,
                high,
            } => {
                low + (high - low)
                    * Beta::new(*alpha, *beta)
                        .expect("checked shapes")
                        .inverse_cdf(u)
            }
            Marginal::Gamma { shape, scale, low } => {
                low + Gamma::new(*shape, 1.0 / scale)
                    .expect("checked shape and scale")
                    .inverse_cdf(u.min(1.0 - 1e-12))
            }
            Marginal::Uniform { low, high } => low + u * (high - low),
            Marginal::Empirical { quantiles } => {
                let position = u * (quantiles.len() - 1) as f64;
                let below = position.floor() as usize;
                let above = (below + 1).min(quantiles.len() - 1);
                let weight = position - below as f64;
                quantiles[below] + weight * (quantiles[above] - quantiles[below])
            }
        }
    }

    /// Whether the parameters describe a distribution (a damaged `copula.json` says why not).
    pub fn check(&self) -> Result<(), String> {
        let finite = |values: &[f64]| values.iter().all(|v| v.is_finite());
        let ok = match self {
            Marginal::Norm { mean, sd } => finite(&[*mean, *sd]) && *sd > 0.0,
            Marginal::Truncnorm {
                mean,
                sd,
                low,
                high,
            } => finite(&[*mean, *sd, *low, *high]) && *sd > 0.0 && low < high,
            Marginal::Beta {
                alpha,
                beta,
                low,
                high,
            } => finite(&[*alpha, *beta, *low, *high]) && *alpha > 0.0 && *beta > 0.0 && low < high,
            Marginal::Gamma { shape, scale, low } => {
                finite(&[*shape, *scale, *low]) && *shape > 0.0 && *scale > 0.0
            }
            Marginal::Uniform { low, high } => finite(&[*low, *high]) && low < high,
            Marginal::Empirical { quantiles } => {
                !quantiles.is_empty()
                    && finite(quantiles)
                    && quantiles.windows(2).all(|w| w[0] <= w[1])
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid {:?} marginal parameters", self.family()))
        }
    }
}

fn normal(mean: f64, sd: f64) -> Normal {
    Normal::new(mean, sd).expect("checked mean and sd")
}

/// Up to [`EMPIRICAL_QUANTILES`] quantiles of sorted values (all of them when fewer), linear
/// between order statistics as NumPy's default percentile.
fn quantiles(sorted: &[f64]) -> Vec<f64> {
    if sorted.len() <= EMPIRICAL_QUANTILES {
        return sorted.to_vec();
    }
    let last = (sorted.len() - 1) as f64;
    (0..EMPIRICAL_QUANTILES)
        .map(|k| {
            let position = k as f64 / (EMPIRICAL_QUANTILES - 1) as f64 * last;
            let below = position.floor() as usize;
            let above = (below + 1).min(sorted.len() - 1);
            sorted[below] + (position - below as f64) * (sorted[above] - sorted[below])
        })
        .collect()
}

/// The probability range of `x` under piecewise-linear quantiles: the span of the quantiles
/// equal to it, or the interpolated point between its neighbours.
fn empirical_cdf(quantiles: &[f64], x: f64) -> (f64, f64) {
    let last = (quantiles.len() - 1).max(1) as f64;
    let first_at_or_above = quantiles.partition_point(|&q| q < x);
    let first_above = quantiles.partition_point(|&q| q <= x);
    if quantiles.len() == 1 {
        return if x < quantiles[0] {
            (0.0, 0.0)
        } else if x > quantiles[0] {
            (1.0, 1.0)
        } else {
            (0.0, 1.0)
        };
    }
    if first_above > first_at_or_above {
        // x is a quantile (perhaps several times)
        let lo = first_at_or_above as f64 / last;
        let hi = (first_above - 1) as f64 / last;
        return (lo, hi);
    }
    if first_above == 0 {
        return (0.0, 0.0);
    }
    if first_above == quantiles.len() {
        return (1.0, 1.0);
    }
    let (i, j) = (first_above - 1, first_above);
    let p = (i as f64 + (x - quantiles[i]) / (quantiles[j] - quantiles[i])) / last;
    (p, p)
}

/// Evenly spaced order statistics of sorted values, at most [`KS_POINTS`].
fn ks_points(sorted: &[f64]) -> Vec<f64> {
    if sorted.len() <= KS_POINTS {
        return sorted.to_vec();
    }
    let step = sorted.len() as f64 / KS_POINTS as f64;
    (0..KS_POINTS)
        .map(|k| sorted[(k as f64 * step) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::Distribution;
    use synth_core::seed::seeded_rng;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn parametric_fits_match_closed_forms() {
        // 1, 2, 3, 4: mean 2.5, population variance 1.25
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            Marginal::fit(Family::Norm, &x),
            Some(Marginal::Norm {
                mean: 2.5,
                sd: 1.25f64.sqrt()
            })
        );
        // beta on [1, 4]: m = 0.5, v = 1.25 / 9; common = 0.25 / v - 1 = 0.8; alpha = beta = 0.4
        let Some(Marginal::Beta { alpha, beta, .. }) = Marginal::fit(Family::Beta, &x) else {
            panic!("beta fits")
        };
        assert!(close(alpha, 0.4, 1e-12) && close(beta, 0.4, 1e-12));
        // gamma from 1: mean 1.5 above it, variance 1.25: shape 1.8, scale 5/6
        let Some(Marginal::Gamma { shape, scale, low }) = Marginal::fit(Family::Gamma, &x) else {
            panic!("gamma fits")
        };
        assert!(close(shape, 1.8, 1e-12) && close(scale, 1.25 / 1.5, 1e-12) && low == 1.0);
        let u = Marginal::fit(Family::Uniform, &x).unwrap();
        assert_eq!(u.cdf(2.5), 0.5);
        assert_eq!(u.inverse_cdf(0.25), 1.75);
        // a constant column: only the empirical marginal describes it
        assert_eq!(Marginal::fit(Family::Norm, &[3.0, 3.0]), None);
        let constant = Marginal::fit(Family::Auto, &[3.0, 3.0]).unwrap();
        assert_eq!(constant.inverse_cdf(0.7), 3.0);
        assert_eq!(constant.cdf(3.0), 0.5);
    }

    #[test]
    fn cdf_and_inverse_agree_for_every_family() {
        let mut rng = seeded_rng(1);
        let gamma = rand_distr::Gamma::new(2.0, 3.0).unwrap();
        let x = sorted((0..5000).map(|_| 1.0 + gamma.sample(&mut rng)).collect());
        for family in [
            Family::Norm,
            Family::Truncnorm,
            Family::Beta,
            Family::Gamma,
            Family::Uniform,
            Family::Empirical,
        ] {
            let m = Marginal::fit(family, &x).unwrap();
            for u in [0.01, 0.3, 0.5, 0.9, 0.99] {
                let back = m.cdf(m.inverse_cdf(u));
                assert!(close(back, u, 1e-3), "{family:?}: {u} -> {back}");
            }
        }
    }

    #[test]
    fn auto_recognises_the_family_that_made_the_data() {
        let mut rng = seeded_rng(2);
        let normal = rand_distr::Normal::new(10.0, 2.0).unwrap();
        let x = sorted((0..4000).map(|_| normal.sample(&mut rng)).collect());
        let Marginal::Norm { mean, sd } = Marginal::choose(&x) else {
            panic!("{:?}", Marginal::choose(&x).family())
        };
        assert!(close(mean, 10.0, 0.1) && close(sd, 2.0, 0.1), "{mean} {sd}");
        // gamma(shape 2) data: gamma fits, normal does not
        let gamma = rand_distr::Gamma::new(2.0, 1.0).unwrap();
        let g = sorted((0..4000).map(|_| gamma.sample(&mut rng)).collect());
        let chosen = Marginal::choose(&g).family();
        assert!(matches!(chosen, Family::Gamma | Family::Beta), "{chosen:?}");
        // mostly zeros with a long tail (a capital gain): no family passes, quantiles it is
        let lumpy = sorted(
            (0..4000)
                .map(|i| {
                    if i % 10 == 0 {
                        (i * 37 % 1000) as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
        assert_eq!(Marginal::choose(&lumpy).family(), Family::Empirical);
    }

    #[test]
    fn empirical_ties_span_their_probabilities() {
        // 0 holds the first 3 of 5 quantiles: probabilities 0 .. 0.5
        let m = Marginal::Empirical {
            quantiles: vec![0.0, 0.0, 0.0, 4.0, 8.0],
        };
        assert_eq!(m.cdf_range(0.0), (0.0, 0.5));
        assert_eq!(m.cdf(6.0), 0.875);
        assert_eq!(m.cdf(-1.0), 0.0);
        assert_eq!(m.cdf(9.0), 1.0);
        assert_eq!(m.inverse_cdf(0.3), 0.0);
        assert_eq!(m.inverse_cdf(0.875), 6.0);
        assert!(
            Marginal::Empirical {
                quantiles: vec![2.0, 1.0]
            }
            .check()
            .is_err()
        );
        assert!(
            Marginal::Norm {
                mean: 0.0,
                sd: -1.0
            }
            .check()
            .is_err()
        );
    }
}
