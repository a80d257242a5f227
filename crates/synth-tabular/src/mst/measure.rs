//! What MST measures, privately: the domains of columns not declared public, the one-way
//! marginals, the tree of two-way marginals (chosen with the exponential mechanism), and
//! those two-way marginals; then the tree model estimated from the noisy measurements.

use super::tree::TreeModel;
use crate::transform::{ColumnValues, ModelledColumn, ReleasedDomain};
use crate::{Result, TabularError};
use rand::Rng;
use synth_core::ColumnKind;
use synth_privacy::{
    Budget, PrivacyConfig, Spend, exponential_rho, exponential_select, gaussian_noise,
    gaussian_sigma, partition_threshold,
};

/// Buckets of the public grid per doubling of magnitude. One per doubling: finer buckets
/// hold fewer rows each, and at small budgets the tails' buckets then fall below the release
/// threshold and the bounds cut real values (quarter doublings lowered Adult's quality at
/// epsilon 1 from 0.81 to 0.75).
const GRID_STEPS_PER_DOUBLING: f64 = 1.0;

/// The magnitudes of the public grid a continuous column's bounds are measured on, in grid
/// steps: a value falls in the bucket of its sign and `floor(log2 |x|)`, from 2^-20 to 2^60
/// (smaller values count as zero, larger ones as the largest bucket).
const GRID_POWERS: std::ops::RangeInclusive<i32> = -20..=60;

/// A grid bucket is kept when its noisy count passes this many noise deviations: with 161
/// buckets per column, an empty bucket passes with probability 3e-5 per bucket, so a few
/// columns' bounds rarely take in an empty stretch of the grid.
const BUCKET_THRESHOLD_SIGMAS: f64 = 4.0;

/// A column as MST sees it: a number of states, and how a row's value becomes one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Discretised {
    /// A continuous column: `bins` equal bins from `min` to `max`, then the missing state.
    Bins {
        /// The lower bound.
        min: f64,
        /// The upper bound.
        max: f64,
        /// The number of bins.
        bins: usize,
    },
    /// A discrete column: its released categories (the released transformer's, missing
    /// among them).
    Categories {
        /// The number of categories.
        count: usize,
    },
}

impl Discretised {
    /// The number of states.
    pub fn states(&self) -> usize {
        match self {
            Discretised::Bins { bins, .. } => bins + 1,
            Discretised::Categories { count } => *count,
        }
    }

    /// The bin of a present value (clamped into the bounds).
    pub fn bin(&self, x: f64) -> usize {
        match self {
            Discretised::Bins { min, max, bins } => {
                let width = (max - min) / *bins as f64;
                if width > 0.0 {
                    (((x - min) / width).floor().max(0.0) as usize).min(bins - 1)
                } else {
                    0
                }
            }
            Discretised::Categories { .. } => 0,
        }
    }
}

/// The released domain of every modelled column, with the budget they cost: public ones as
/// they are, the others measured (categories by Gaussian partition selection, bounds by a
/// noisy histogram over a public power-of-two grid).
pub fn release_domains(
    columns: &[ModelledColumn],
    values: &[ColumnValues],
    privacy: &PrivacyConfig,
    domain_rho: f64,
    budget: &mut Budget,
    rng: &mut impl Rng,
) -> Result<Vec<ReleasedDomain>> {
    let private: Vec<usize> = (0..columns.len())
        .filter(|&j| !privacy.is_public(&columns[j].0.name))
        .collect();
    let private_discrete = private
        .iter()
        .filter(|&&j| columns[j].0.kind == ColumnKind::Discrete)
        .count();
    let rho = domain_rho / private.len().max(1) as f64;
    let sigma = gaussian_sigma(1.0, rho);
    let mut domains = Vec::with_capacity(columns.len());
    for (j, ((meta, categories), column)) in columns.iter().zip(values).enumerate() {
        let public = !private.contains(&j);
        let domain = match (column, categories) {
            (ColumnValues::Categories(rows), Some((labels, _))) => {
                if public {
                    ReleasedDomain::Categories((0..labels.len()).collect())
                } else {
                    let mut counts = vec![0.0f64; labels.len()];
                    rows.iter().for_each(|&c| counts[c] += 1.0);
                    let threshold = partition_threshold(
                        sigma,
                        budget.selection_delta / private_discrete as f64,
                    );
                    let kept: Vec<usize> = (0..labels.len())
                        .filter(|&c| counts[c] + gaussian_noise(sigma, rng) > threshold)
                        .collect();
                    if kept.is_empty() {
                        return Err(too_small(
                            &meta.name,
                            &format!(
                                "no category's noisy count passed the release threshold {threshold:.1}"
                            ),
                        ));
                    }
                    ReleasedDomain::Categories(kept)
                }
            }
            (ColumnValues::Numbers(numbers), _) => {
                if public {
                    let (Some(min), Some(max)) = (meta.min, meta.max) else {
                        return Err(too_small(&meta.name, "its public bounds are unknown"));
                    };
                    if let Some(x) = numbers.iter().flatten().find(|x| **x < min || **x > max) {
                        return Err(TabularError::Config(format!(
                            "column `{}`: privacy.public declares its bounds [{min}, {max}] public, but the data holds {x} outside them; widen the bounds (data.bounds or data.metadata) or leave the column out of privacy.public",
                            meta.name
                        )));
                    }
                    ReleasedDomain::Bounds { min, max }
                } else {
                    noisy_bounds(&meta.name, numbers, sigma, rng)?
                }
            }
            _ => {
                return Err(TabularError::ValuesMismatch {
                    column: meta.name.clone(),
                });
            }
        };
        domains.push(domain);
    }
    if !private.is_empty() {
        budget.spend(Spend {
            what: format!("domains of {} columns not declared public", private.len()),
            mechanism: "gaussian".into(),
            count: private.len(),
            rho: rho * private.len() as f64,
            scale: sigma,
        })?;
    }
    Ok(domains)
}

/// The error of a column whose domain cannot be released.
fn too_small(column: &str, why: &str) -> TabularError {
    TabularError::Config(format!(
        "column `{column}`: {why}; declare its domain public (privacy.public, with its bounds or categories in data.metadata) or raise privacy.epsilon"
    ))
}

/// The bucket of the public grid a value falls in: `(sign, power)`, power `None` for zero.
fn grid_bucket(x: f64) -> (bool, Option<i32>) {
    let magnitude = x.abs();
    if magnitude < grid_edge(*GRID_POWERS.start()) {
        return (false, None);
    }
    let power = ((magnitude.log2() * GRID_STEPS_PER_DOUBLING).floor() as i32)
        .clamp(*GRID_POWERS.start(), *GRID_POWERS.end());
    (x < 0.0, Some(power))
}

/// The magnitude where grid bucket `step` starts.
fn grid_edge(step: i32) -> f64 {
    2f64.powf(f64::from(step) / GRID_STEPS_PER_DOUBLING)
}

/// Bounds from a noisy histogram over the public grid: from the lowest to the highest bucket
/// whose noisy count passes [`BUCKET_THRESHOLD_SIGMAS`] noise deviations.
fn noisy_bounds(
    name: &str,
    numbers: &[Option<f64>],
    sigma: f64,
    rng: &mut impl Rng,
) -> Result<ReleasedDomain> {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<(bool, Option<i32>), f64> = BTreeMap::new();
    for x in numbers.iter().flatten() {
        *counts.entry(grid_bucket(*x)).or_default() += 1.0;
    }
    // every bucket of the grid gets noise, counted or not
    let edges = |(negative, power): (bool, Option<i32>)| -> (f64, f64) {
        match power {
            None => (0.0, 0.0),
            Some(p) if negative => (-grid_edge(p + 1), -grid_edge(p)),
            Some(p) => (grid_edge(p), grid_edge(p + 1)),
        }
    };
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    let buckets = std::iter::once((false, None))
        .chain(GRID_POWERS.flat_map(|p| [(false, Some(p)), (true, Some(p))]));
    for bucket in buckets {
        let noisy = counts.get(&bucket).copied().unwrap_or(0.0) + gaussian_noise(sigma, rng);
        if noisy > BUCKET_THRESHOLD_SIGMAS * sigma.max(1.0) {
            let (lo, hi) = edges(bucket);
            min = min.min(lo);
            max = max.max(hi);
        }
    }
    if min > max {
        return Err(too_small(
            name,
            "no range of values was frequent enough to release its bounds",
        ));
    }
    Ok(ReleasedDomain::Bounds { min, max })
}

/// A marginal's counts: of one column (`states[a]` cells) or of two (`states[a] x states[b]`,
/// row-major).
fn counts(states: &[Vec<usize>], sizes: &[usize], a: usize, b: Option<usize>) -> Vec<f64> {
    let width = b.map_or(1, |b| sizes[b]);
    let mut counts = vec![0.0; sizes[a] * width];
    for (row, &x) in states[a].iter().enumerate() {
        counts[x * width + b.map_or(0, |b| states[b][row])] += 1.0;
    }
    counts
}

/// The counts plus independent `N(0, sigma^2)` noise per cell.
fn noisy(mut counts: Vec<f64>, sigma: f64, rng: &mut impl Rng) -> Vec<f64> {
    counts
        .iter_mut()
        .for_each(|c| *c += gaussian_noise(sigma, rng));
    counts
}

/// The Euclidean projection of `v` onto `{x >= 0, sum x = total}` (Duchi et al. 2008): the
/// closest non-negative counts with that total.
pub fn project_to_simplex(v: &[f64], total: f64) -> Vec<f64> {
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let (mut acc, mut shift) = (0.0, 0.0);
    for (i, &u) in sorted.iter().enumerate() {
        acc += u;
        let t = (acc - total) / (i + 1) as f64;
        if u - t > 0.0 {
            shift = t;
        }
    }
    v.iter().map(|x| (x - shift).max(0.0)).collect()
}

/// MST's measurements (McKenna, Miklau and Sheldon 2021): the rest of the budget in three
/// equal parts for the one-way marginals (Gaussian), the tree (one exponential-mechanism
/// choice per edge, scored by how far the data's two-way marginal is from what the noisy
/// one-way marginals predict), and the tree's two-way marginals (Gaussian); then the model.
pub fn measure(
    states: &[Vec<usize>],
    sizes: &[usize],
    budget: &mut Budget,
    rng: &mut impl Rng,
) -> Result<TreeModel> {
    let d = sizes.len();
    let third = budget.left() / 3.0;
    let sigma1 = gaussian_sigma((d as f64).sqrt(), third);
    let one_way: Vec<Vec<f64>> = (0..d)
        .map(|j| noisy(counts(states, sizes, j, None), sigma1, rng))
        .collect();
    budget.spend(Spend {
        what: format!("one-way marginals of {d} columns"),
        mechanism: "gaussian".into(),
        count: d,
        rho: third,
        scale: sigma1,
    })?;
    let total = one_way.iter().map(|m| m.iter().sum::<f64>()).sum::<f64>() / d as f64;
    let total = total.max(1.0);
    let marginals: Vec<Vec<f64>> = one_way
        .iter()
        .map(|m| project_to_simplex(m, total))
        .collect();
    if d == 1 {
        return Ok(estimate(sizes, &one_way, sigma1, &[], 1.0, total));
    }
    let epsilon = (8.0 * third / (d - 1) as f64).sqrt();
    let edges = select_tree(states, sizes, &marginals, total, epsilon, rng);
    budget.spend(Spend {
        what: format!(
            "{} tree edges among {} column pairs",
            d - 1,
            d * (d - 1) / 2
        ),
        mechanism: "exponential".into(),
        count: d - 1,
        rho: exponential_rho(epsilon) * (d - 1) as f64,
        scale: epsilon,
    })?;
    let sigma2 = gaussian_sigma(((d - 1) as f64).sqrt(), budget.left());
    let measured: Vec<((usize, usize), Vec<f64>)> = edges
        .iter()
        .map(|&(a, b)| {
            (
                (a, b),
                noisy(counts(states, sizes, a, Some(b)), sigma2, rng),
            )
        })
        .collect();
    budget.spend(Spend {
        what: format!("two-way marginals of the {} tree edges", d - 1),
        mechanism: "gaussian".into(),
        count: d - 1,
        rho: budget.left(),
        scale: sigma2,
    })?;
    Ok(estimate(sizes, &one_way, sigma1, &measured, sigma2, total))
}

/// The maximum spanning tree of Kruskal's algorithm, each edge chosen by the exponential
/// mechanism among the pairs joining two components (score: the L1 distance between the
/// pair's two-way counts and the independent prediction `total * p_a p_b`; sensitivity 1).
fn select_tree(
    states: &[Vec<usize>],
    sizes: &[usize],
    marginals: &[Vec<f64>],
    total: f64,
    epsilon: f64,
    rng: &mut impl Rng,
) -> Vec<(usize, usize)> {
    let d = sizes.len();
    let mut pairs = Vec::new();
    for a in 0..d {
        for b in a + 1..d {
            let data = counts(states, sizes, a, Some(b));
            let score: f64 = data
                .iter()
                .enumerate()
                .map(|(cell, c)| {
                    let (x, y) = (cell / sizes[b], cell % sizes[b]);
                    (c - marginals[a][x] * marginals[b][y] / total).abs()
                })
                .sum();
            pairs.push(((a, b), score));
        }
    }
    let mut component: Vec<usize> = (0..d).collect();
    let mut edges = Vec::with_capacity(d - 1);
    while edges.len() + 1 < d {
        let open: Vec<&((usize, usize), f64)> = pairs
            .iter()
            .filter(|((a, b), _)| component[*a] != component[*b])
            .collect();
        let scores: Vec<f64> = open.iter().map(|p| p.1).collect();
        let ((a, b), _) = *open[exponential_select(&scores, epsilon, 1.0, rng)];
        let (from, to) = (component[b], component[a]);
        component
            .iter_mut()
            .filter(|c| **c == from)
            .for_each(|c| *c = to);
        edges.push((a, b));
    }
    edges
}

/// The tree model from the noisy measurements: each column's marginal combines its one-way
/// measurement with the sums of its edges' two-way measurements (weighted by inverse noise
/// variance) and is projected onto non-negative counts with the estimated total; each edge's
/// two-way measurement is projected likewise and fitted to those marginals by iterative
/// proportional fitting, so the model's marginals are consistent; then the tree is rooted at
/// column 0 and each column's table is its edge's counts given its parent.
fn estimate(
    sizes: &[usize],
    one_way: &[Vec<f64>],
    sigma1: f64,
    two_way: &[((usize, usize), Vec<f64>)],
    sigma2: f64,
    total: f64,
) -> TreeModel {
    let d = sizes.len();
    let mut sum: Vec<Vec<f64>> = one_way
        .iter()
        .map(|m| m.iter().map(|v| v / (sigma1 * sigma1)).collect())
        .collect();
    let mut precision: Vec<f64> = vec![1.0 / (sigma1 * sigma1); d];
    for ((a, b), m) in two_way {
        let (ka, kb) = (sizes[*a], sizes[*b]);
        let rows: Vec<f64> = m.chunks(kb).map(|r| r.iter().sum()).collect();
        let cols: Vec<f64> = (0..kb)
            .map(|y| (0..ka).map(|x| m[x * kb + y]).sum())
            .collect();
        for (j, sums, cells) in [(*a, rows, kb), (*b, cols, ka)] {
            let w = 1.0 / (cells as f64 * sigma2 * sigma2);
            sum[j].iter_mut().zip(&sums).for_each(|(s, v)| *s += v * w);
            precision[j] += w;
        }
    }
    let marginals: Vec<Vec<f64>> = sum
        .iter()
        .zip(&precision)
        .map(|(s, p)| {
            let combined: Vec<f64> = s.iter().map(|v| v / p).collect();
            // a floor keeps every state reachable by proportional fitting
            project_to_simplex(&combined, total)
                .into_iter()
                .map(|v| v + 1e-6)
                .collect()
        })
        .collect();
    let mut neighbours: Vec<Vec<(usize, usize)>> = vec![Vec::new(); d];
    for (e, ((a, b), _)) in two_way.iter().enumerate() {
        neighbours[*a].push((*b, e));
        neighbours[*b].push((*a, e));
    }
    let mut parent = vec![None; d];
    let mut tables = vec![Vec::new(); d];
    let mut order = Vec::with_capacity(d);
    let mut seen = vec![false; d];
    for root in 0..d {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let t: f64 = marginals[root].iter().sum();
        tables[root] = marginals[root].iter().map(|v| v / t).collect();
        let mut queue = std::collections::VecDeque::from([root]);
        while let Some(p) = queue.pop_front() {
            order.push(p);
            for &(c, e) in &neighbours[p] {
                if seen[c] {
                    continue;
                }
                seen[c] = true;
                parent[c] = Some(p);
                let ((a, b), m) = &two_way[e];
                let joint = fitted_joint(m, &marginals[*a], &marginals[*b], total);
                // joint is over (a, other); orient it as parent x child
                let (kp, kc) = (sizes[p], sizes[c]);
                let mut table = vec![0.0; kp * kc];
                for x in 0..kp {
                    for y in 0..kc {
                        table[x * kc + y] = if *a == p {
                            joint[x * kc + y]
                        } else {
                            joint[y * kp + x]
                        };
                    }
                }
                for row in table.chunks_mut(kc) {
                    let t: f64 = row.iter().sum();
                    row.iter_mut().for_each(|v| *v /= t);
                }
                tables[c] = table;
                queue.push_back(c);
            }
        }
    }
    TreeModel {
        states: sizes.to_vec(),
        parent,
        order,
        tables,
    }
}

/// A two-way measurement projected onto non-negative counts with the total and fitted to the
/// row and column marginals by iterative proportional fitting.
fn fitted_joint(measured: &[f64], rows: &[f64], cols: &[f64], total: f64) -> Vec<f64> {
    let (kr, kc) = (rows.len(), cols.len());
    let mut joint: Vec<f64> = project_to_simplex(measured, total)
        .into_iter()
        .map(|v| v + 1e-6)
        .collect();
    for _ in 0..50 {
        for (x, target) in rows.iter().enumerate() {
            let row = &mut joint[x * kc..(x + 1) * kc];
            let t: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v *= target / t);
        }
        for (y, target) in cols.iter().enumerate() {
            let t: f64 = (0..kr).map(|x| joint[x * kc + y]).sum();
            (0..kr).for_each(|x| joint[x * kc + y] *= target / t);
        }
    }
    joint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplex_projection_is_the_closest_point_with_the_total() {
        // closed form: shifting by (sum - total) / k when no entry goes negative
        let p = project_to_simplex(&[3.0, 1.0, 2.0], 3.0);
        for (got, want) in p.iter().zip([2.0, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        let p = project_to_simplex(&[5.0, -2.0, 1.0, 0.5], 4.0);
        assert!((p.iter().sum::<f64>() - 4.0).abs() < 1e-12);
        assert!(p.iter().all(|v| *v >= 0.0));
        // optimality: the KKT conditions (positive entries share one shift)
        assert!((p[0] - 5.0 + 1.0).abs() < 1e-12 && p[1] == 0.0, "{p:?}");
    }

    #[test]
    fn proportional_fitting_meets_both_marginals() {
        let joint = fitted_joint(
            &[4.0, -1.0, 2.0, 5.0, 0.5, 1.0],
            &[6.0, 4.0],
            &[3.0, 3.0, 4.0],
            10.0,
        );
        for (x, want) in [6.0, 4.0].iter().enumerate() {
            assert!((joint[x * 3..x * 3 + 3].iter().sum::<f64>() - want).abs() < 1e-6);
        }
        for (y, want) in [3.0, 3.0, 4.0].iter().enumerate() {
            assert!(((0..2).map(|x| joint[x * 3 + y]).sum::<f64>() - want).abs() < 1e-6);
        }
    }

    #[test]
    fn grid_buckets_are_signed_powers_of_two() {
        assert_eq!(grid_bucket(0.0), (false, None));
        // log2(3) = 1.585 -> [2, 4)
        assert_eq!(grid_bucket(3.0), (false, Some(1)));
        assert!(grid_edge(1) <= 3.0 && 3.0 < grid_edge(2));
        // log2(0.3) = -1.737 -> [0.25, 0.5)
        assert_eq!(grid_bucket(-0.3), (true, Some(-2)));
        assert_eq!(grid_bucket(1e30), (false, Some(60)));
        assert_eq!(grid_bucket(1e-9), (false, None));
    }
}
