//! How each modelled column enters the mixture: a discrete column, or a number with few
//! distinct values, as a categorical leaf (one state per category or value, missing values a
//! state of their own); any other number as a Gaussian leaf on its normal scores (the
//! empirical CDF then the inverse normal CDF, a value repeated in the data scored uniformly
//! over its share of the CDF, as spreading an integer by +-0.5 does), beside states for a
//! point mass at the minimum (a capital gain of 0) and for missing values. A missing number
//! carries no score: the Gaussian is marginalised out of its likelihood, and each component
//! reproduces missing values at its own rate.

use super::config::MixtureConfig;
use crate::copula::{Family, Marginal};
use crate::transform::{ColumnValues, ModelledColumn};
use crate::{Result, TabularError};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use synth_core::seed::SeededRng;

/// Probabilities are kept this far from 0 and 1 before the normal quantile (|z| <= 7).
const EDGE: f64 = 1e-12;

/// How one modelled column is modelled inside every component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Leaf {
    /// A discrete column: state = category index (missing values are a category).
    Category {
        /// Number of categories.
        count: usize,
    },
    /// A number with few distinct values: one state per value, ascending, then one for
    /// missing values when the column has any.
    Values {
        /// The distinct values, ascending.
        values: Vec<f64>,
        /// Whether the last state stands for a missing value.
        has_null: bool,
    },
    /// A number on its normal scores: state 0 a value (its score is Gaussian in every
    /// component), then the point mass at the minimum when there is one, then missing.
    Gaussian {
        /// The empirical distribution of the values the Gaussian describes.
        marginal: Marginal,
        /// The minimum, when it holds at least `point_mass_share` of the present values.
        minimum: Option<f64>,
        /// Whether the last state stands for a missing value.
        has_null: bool,
    },
}

/// The state of a Gaussian leaf whose value its Gaussian scores.
pub const VALUE_STATE: usize = 0;

impl Leaf {
    /// Number of states (a categorical distribution's support).
    pub fn states(&self) -> usize {
        match self {
            Leaf::Category { count } => *count,
            Leaf::Values { values, has_null } => values.len() + usize::from(*has_null),
            Leaf::Gaussian {
                minimum, has_null, ..
            } => 1 + usize::from(minimum.is_some()) + usize::from(*has_null),
        }
    }

    /// Whether the leaf has a Gaussian (on its state [`VALUE_STATE`]).
    pub fn is_gaussian(&self) -> bool {
        matches!(self, Leaf::Gaussian { .. })
    }

    /// The state of a missing number (discrete columns: their missing category is found
    /// through the transformer's labels).
    pub fn missing_state(&self) -> Option<usize> {
        match self {
            Leaf::Values { has_null: true, .. } | Leaf::Gaussian { has_null: true, .. } => {
                Some(self.states() - 1)
            }
            _ => None,
        }
    }

    /// The state and (for the Gaussian's values) the interval of cumulative probabilities a
    /// number covers; `None` for a number a categorical leaf never saw.
    pub fn locate(&self, x: f64) -> Option<(usize, (f64, f64))> {
        match self {
            Leaf::Category { .. } => None,
            Leaf::Values { values, .. } => {
                values.iter().position(|&v| v == x).map(|s| (s, (0.0, 0.0)))
            }
            Leaf::Gaussian {
                marginal, minimum, ..
            } => {
                if *minimum == Some(x) {
                    return Some((1, (0.0, 0.0)));
                }
                Some((VALUE_STATE, marginal.cdf_range(x)))
            }
        }
    }

    /// The number a Gaussian leaf's value state gives for the normal score `z`.
    pub fn number(&self, state: usize, z: f64) -> Option<f64> {
        match self {
            Leaf::Category { .. } => None,
            Leaf::Values { values, .. } => values.get(state).copied(),
            Leaf::Gaussian {
                marginal, minimum, ..
            } => match state {
                VALUE_STATE => Some(marginal.inverse_cdf(standard_normal().cdf(z))),
                1 => *minimum,
                _ => None,
            },
        }
    }

    /// Checks a loaded leaf against its column (the message says what is wrong).
    pub fn check(&self, column: &ModelledColumn) -> std::result::Result<(), String> {
        match (self, &column.1) {
            (Leaf::Category { count }, Some((labels, _))) if *count == labels.len() => Ok(()),
            (Leaf::Values { values, .. }, None)
                if !values.is_empty()
                    && values.iter().all(|v| v.is_finite())
                    && values.windows(2).all(|w| w[0] < w[1]) =>
            {
                Ok(())
            }
            (
                Leaf::Gaussian {
                    marginal, minimum, ..
                },
                None,
            ) => {
                marginal.check()?;
                match minimum {
                    Some(m) if !m.is_finite() => Err("the point mass is not finite".into()),
                    _ => Ok(()),
                }
            }
            _ => Err("the leaf does not match the column's kind or categories".into()),
        }
    }
}

/// The standard normal distribution.
pub fn standard_normal() -> Normal {
    Normal::standard()
}

/// The normal score of a cumulative probability: minus or plus infinity at 0 and 1 (the ends
/// of a range), else kept finite.
pub fn score(u: f64) -> f64 {
    if u <= 0.0 {
        f64::NEG_INFINITY
    } else if u >= 1.0 {
        f64::INFINITY
    } else {
        standard_normal().inverse_cdf(u.clamp(EDGE, 1.0 - EDGE))
    }
}

/// The rows as the mixture reads them: each leaf's state, and each Gaussian's normal score
/// (0 where the row is not in its value state).
#[derive(Debug, Clone, PartialEq)]
pub struct LeafRows {
    /// Row-major, one per leaf.
    pub states: Vec<u32>,
    /// Row-major, one per Gaussian leaf.
    pub scores: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
}

impl LeafRows {
    /// The rows at `picked`, in that order.
    pub fn select(&self, picked: &[usize]) -> LeafRows {
        let (leaves, gaussians) = (
            self.states.len() / self.rows.max(1),
            self.scores.len() / self.rows.max(1),
        );
        LeafRows {
            states: picked
                .iter()
                .flat_map(|&r| &self.states[r * leaves..(r + 1) * leaves])
                .copied()
                .collect(),
            scores: picked
                .iter()
                .flat_map(|&r| &self.scores[r * gaussians..(r + 1) * gaussians])
                .copied()
                .collect(),
            rows: picked.len(),
        }
    }
}

/// Fits every modelled column's leaf on the training values.
pub fn fit_leaves(
    columns: &[ModelledColumn],
    values: &[ColumnValues],
    config: &MixtureConfig,
) -> Result<Vec<Leaf>> {
    columns
        .iter()
        .zip(values)
        .map(|((meta, categories), column)| match (column, categories) {
            (ColumnValues::Categories(_), Some((labels, _))) => Ok(Leaf::Category {
                count: labels.len(),
            }),
            (ColumnValues::Numbers(numbers), None) => {
                let mut present: Vec<f64> = numbers.iter().flatten().copied().collect();
                if present.is_empty() {
                    return Err(TabularError::AllMissing {
                        column: meta.name.clone(),
                    });
                }
                present.sort_by(f64::total_cmp);
                let has_null = present.len() < numbers.len();
                let mut distinct = present.clone();
                distinct.dedup();
                if distinct.len() < config.categorical_below {
                    return Ok(Leaf::Values {
                        values: distinct,
                        has_null,
                    });
                }
                let lowest = present[0];
                let at_minimum = present.partition_point(|&x| x <= lowest);
                let minimum = (at_minimum as f64 >= config.point_mass_share * present.len() as f64)
                    .then_some(lowest);
                let rest = if minimum.is_some() {
                    &present[at_minimum..]
                } else {
                    &present[..]
                };
                let marginal =
                    Marginal::fit(Family::Empirical, rest).expect("an empirical marginal fits");
                Ok(Leaf::Gaussian {
                    marginal,
                    minimum,
                    has_null,
                })
            }
            _ => Err(TabularError::ValuesMismatch {
                column: meta.name.clone(),
            }),
        })
        .collect()
}

/// The rows of `values` as states and scores; a value repeated in the data gets a score drawn
/// from `rng` uniformly over its share of the CDF. Errors name a value a categorical leaf
/// never saw: (leaf, row, value).
pub fn encode(
    leaves: &[Leaf],
    values: &[ColumnValues],
    rng: &mut SeededRng,
) -> std::result::Result<LeafRows, (usize, usize, f64)> {
    let rows = values.first().map_or(0, ColumnValues::rows);
    let gaussians = leaves.iter().filter(|l| l.is_gaussian()).count();
    let mut states = vec![0u32; rows * leaves.len()];
    let mut scores = vec![0f32; rows * gaussians];
    let mut g = 0;
    for (j, (leaf, column)) in leaves.iter().zip(values).enumerate() {
        for row in 0..rows {
            let state = match column {
                ColumnValues::Categories(indices) => indices[row],
                ColumnValues::Numbers(numbers) => match numbers[row] {
                    None => leaf.missing_state().expect("a column with missing values"),
                    Some(x) => {
                        let (state, (lo, hi)) = leaf.locate(x).ok_or((j, row, x))?;
                        if leaf.is_gaussian() && state == VALUE_STATE {
                            let u = if hi > lo {
                                rng.random_range(lo..hi)
                            } else {
                                lo
                            };
                            scores[row * gaussians + g] = score(u.clamp(EDGE, 1.0 - EDGE)) as f32;
                        }
                        state
                    }
                },
            };
            states[row * leaves.len() + j] = state as u32;
        }
        g += usize::from(leaf.is_gaussian());
    }
    Ok(LeafRows {
        states,
        scores,
        rows,
    })
}
