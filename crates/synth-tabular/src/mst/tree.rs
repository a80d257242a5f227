//! The tree-shaped graphical model MST estimates from its noisy marginals, and exact
//! conditional sampling from it by belief propagation.

use crate::{Result, TabularError};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use synth_core::seed::SeededRng;

/// A distribution over the columns' states that factorises over a tree: the root's marginal,
/// then each other column given its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    /// Each column's number of states.
    pub states: Vec<usize>,
    /// Each column's parent (`None` for the root and for the roots of other components).
    pub parent: Vec<Option<usize>>,
    /// The columns in an order where every parent comes before its children.
    pub order: Vec<usize>,
    /// Per column: its marginal for a root, else `P(state | parent state)` as a row-major
    /// `parent states x states` matrix.
    pub tables: Vec<Vec<f64>>,
}

/// What is known of one column when sampling: a weight per state (1 for every state without
/// a condition, 0 for excluded states).
pub type Evidence = Vec<f64>;

/// The model conditioned on evidence, ready to sample: a root's posterior, and each other
/// column's distribution given its parent's state and the evidence below it.
#[derive(Debug, Clone)]
pub struct Posterior {
    order: Vec<usize>,
    parent: Vec<Option<usize>>,
    states: Vec<usize>,
    /// Per column, cumulative probabilities (one row per parent state for non-roots).
    cumulative: Vec<Vec<f64>>,
}

impl TreeModel {
    /// Checks a model read from a file: sizes agree, parents come first, tables are finite
    /// non-negative distributions.
    pub fn check(&self) -> std::result::Result<(), String> {
        let d = self.states.len();
        if self.parent.len() != d || self.tables.len() != d || self.order.len() != d {
            return Err("the tree's states, parents, order and tables differ in length".into());
        }
        let mut seen = vec![false; d];
        for &j in &self.order {
            if j >= d || seen[j] {
                return Err(format!(
                    "the tree's order {:?} is not a permutation",
                    self.order
                ));
            }
            if let Some(p) = self.parent[j]
                && (p >= d || !seen[p])
            {
                return Err(format!("column {j}'s parent {p} does not come before it"));
            }
            seen[j] = true;
            let rows = self.parent[j].map_or(1, |p| self.states[p]);
            let table = &self.tables[j];
            if self.states[j] == 0 || table.len() != rows * self.states[j] {
                return Err(format!("column {j}'s table has {} values", table.len()));
            }
            for row in table.chunks(self.states[j]) {
                let total: f64 = row.iter().sum();
                if row.iter().any(|p| !p.is_finite() || *p < 0.0) || (total - 1.0).abs() > 1e-6 {
                    return Err(format!(
                        "column {j}'s table holds a row that is not a distribution"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The model given `evidence` (one per column), by belief propagation: messages from
    /// the leaves up (`belief(x_c) = evidence_c(x_c) * product of the children's messages`,
    /// `message_c(x_p) = sum over x_c of P(x_c | x_p) belief(x_c)`), then each column's
    /// distribution given its parent is `P(x_c | x_p) belief(x_c)`, normalised. Sampling root
    /// first from these is exact sampling from the model conditioned on the evidence.
    pub fn posterior(&self, evidence: &[Evidence]) -> Result<Posterior> {
        let d = self.states.len();
        let mut belief: Vec<Vec<f64>> = evidence.to_vec();
        for &c in self.order.iter().rev() {
            let Some(p) = self.parent[c] else { continue };
            let k = self.states[c];
            let message: Vec<f64> = self.tables[c]
                .chunks(k)
                .map(|row| row.iter().zip(&belief[c]).map(|(a, b)| a * b).sum())
                .collect();
            for (b, m) in belief[p].iter_mut().zip(message) {
                *b *= m;
            }
        }
        let mut cumulative = vec![Vec::new(); d];
        for &c in &self.order {
            let k = self.states[c];
            let mut rows = Vec::with_capacity(self.tables[c].len());
            for row in self.tables[c].chunks(k) {
                let weights: Vec<f64> = row.iter().zip(&belief[c]).map(|(a, b)| a * b).collect();
                let total: f64 = weights.iter().sum();
                if self.parent[c].is_none() && total <= 0.0 {
                    return Err(TabularError::Config(
                        "the conditions have probability zero under the model (no sampled row can meet them); relax them".into(),
                    ));
                }
                let mut acc = 0.0;
                rows.extend(weights.iter().map(|w| {
                    acc += if total > 0.0 {
                        w / total
                    } else {
                        1.0 / k as f64
                    };
                    acc
                }));
            }
            cumulative[c] = rows;
        }
        Ok(Posterior {
            order: self.order.clone(),
            parent: self.parent.clone(),
            states: self.states.clone(),
            cumulative,
        })
    }
}

impl Posterior {
    /// One row's states, drawn root first.
    pub fn sample(&self, rng: &mut SeededRng, out: &mut [usize]) {
        for &c in &self.order {
            let k = self.states[c];
            let row = self.parent[c].map_or(0, |p| out[p]);
            let cdf = &self.cumulative[c][row * k..(row + 1) * k];
            let u: f64 = rng.random::<f64>() * cdf[k - 1];
            out[c] = cdf.partition_point(|&p| p <= u).min(k - 1);
        }
    }

    /// The probability the posterior gives a whole row of states.
    #[cfg(test)]
    fn probability(&self, x: &[usize]) -> f64 {
        self.order
            .iter()
            .map(|&c| {
                let k = self.states[c];
                let row = self.parent[c].map_or(0, |p| x[p]);
                let cdf = &self.cumulative[c][row * k..(row + 1) * k];
                cdf[x[c]] - if x[c] == 0 { 0.0 } else { cdf[x[c] - 1] }
            })
            .product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth_core::seed::seeded_rng;

    /// 0 -> 1, 0 -> 2, 2 -> 3, with 2, 3, 2 and 3 states and uneven tables.
    fn tree() -> TreeModel {
        let mut rng = seeded_rng(3);
        let states = vec![2, 3, 2, 3];
        let parent = vec![None, Some(0), Some(0), Some(2)];
        let tables = (0..4)
            .map(|c| {
                let rows = parent[c].map_or(1, |p: usize| states[p]);
                (0..rows)
                    .flat_map(|_| {
                        let w: Vec<f64> =
                            (0..states[c]).map(|_| rng.random::<f64>() + 0.1).collect();
                        let t: f64 = w.iter().sum();
                        w.into_iter().map(move |v| v / t)
                    })
                    .collect()
            })
            .collect();
        TreeModel {
            states,
            parent,
            order: vec![0, 2, 3, 1],
            tables,
        }
    }

    fn joint(t: &TreeModel, x: &[usize]) -> f64 {
        (0..4)
            .map(|c| {
                let k = t.states[c];
                let row = t.parent[c].map_or(0, |p| x[p]);
                t.tables[c][row * k + x[c]]
            })
            .product()
    }

    fn assignments(t: &TreeModel) -> Vec<Vec<usize>> {
        let mut all = vec![vec![]];
        for &k in &t.states {
            all = all
                .into_iter()
                .flat_map(|x| (0..k).map(move |s| [x.clone(), vec![s]].concat()))
                .collect();
        }
        all
    }

    /// Belief propagation against brute-force enumeration: the posterior's probability of
    /// every full assignment equals the joint times the evidence, normalised.
    #[test]
    fn belief_propagation_matches_brute_force_enumeration() {
        let t = tree();
        t.check().unwrap();
        let cases: Vec<Vec<Evidence>> = vec![
            t.states.iter().map(|&k| vec![1.0; k]).collect(),
            // a leaf observed, and a soft weight on the middle column
            vec![
                vec![1.0; 2],
                vec![1.0; 3],
                vec![0.3, 1.0],
                vec![0.0, 1.0, 0.0],
            ],
            // the root and a leaf on another branch observed
            vec![
                vec![0.0, 1.0],
                vec![1.0, 0.0, 1.0],
                vec![1.0; 2],
                vec![1.0; 3],
            ],
        ];
        for evidence in cases {
            let post = t.posterior(&evidence).unwrap();
            let weight = |x: &[usize]| {
                joint(&t, x)
                    * x.iter()
                        .enumerate()
                        .map(|(c, &s)| evidence[c][s])
                        .product::<f64>()
            };
            let all = assignments(&t);
            let z: f64 = all.iter().map(|x| weight(x)).sum();
            for x in &all {
                let want = weight(x) / z;
                assert!(
                    (post.probability(x) - want).abs() < 1e-12,
                    "{x:?} {evidence:?}"
                );
            }
            // and the sampler draws from it
            let mut rng = seeded_rng(9);
            let mut out = vec![0; 4];
            let n = 40_000;
            let target = &all[all.iter().position(|x| weight(x) > 0.0).unwrap()];
            let hits = (0..n)
                .filter(|_| {
                    post.sample(&mut rng, &mut out);
                    &out == target
                })
                .count();
            let p = weight(target) / z;
            assert!((hits as f64 / n as f64 - p).abs() < 4.0 * (p / n as f64).sqrt() + 1e-3);
        }
    }

    #[test]
    fn impossible_evidence_is_an_error() {
        let t = tree();
        let mut evidence: Vec<Evidence> = t.states.iter().map(|&k| vec![1.0; k]).collect();
        evidence[3] = vec![0.0; 3];
        let err = t.posterior(&evidence).unwrap_err().to_string();
        assert!(err.contains("probability zero"), "{err}");
    }
}
