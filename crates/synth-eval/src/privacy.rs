//! Privacy: distance to closest record (DCR) as SDMetrics defines it, exact over every
//! reference row; the DCR overfitting-protection score; exact copies of training rows; and a
//! distance-based membership-inference attack.
//!
//! The distance between two rows is the mean over columns of a per-column distance:
//! `|a - b| / range` capped at 1 for numbers (range of the reference table; a constant column
//! counts any difference as 1), 0/1 for categories; a missing value is 0 from a missing value
//! and 1 from anything else.
//!
//! Written by hand because no crate computes this mixed distance; the exact nearest neighbour
//! over all rows is a brute-force scan (tiled so the reference rows stay in cache, vectorised
//! by the compiler, parallel over query rows), which is what the definition needs: metric
//! trees do not help at this dimension with categorical columns.

use crate::Progress;
use crate::stats::{Interval, bootstrap, mean, percentile_sorted, present_range, roc_auc};
use crate::table::{MISSING, Table, Values};
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use synth_core::seed::seeded_rng;

/// Reference rows per tile: all columns of a tile stay in the core's cache.
const TILE: usize = 2048;

/// One reference column, prepared for the scan.
enum RefColumn {
    /// Values divided by the reference range; `missing[r]` is 1 where row r lacks a value.
    Scaled {
        values: Vec<f32>,
        missing: Vec<f32>,
        scale: f64,
    },
    /// Codes compared for equality (categories, and numbers of a constant column).
    Codes {
        codes: Vec<u32>,
        constant: Option<f64>,
    },
}

/// The reference table of a nearest-record search.
pub struct DcrReference {
    columns: Vec<RefColumn>,
    rows: usize,
}

enum QueryValue {
    Scaled(f32),
    Missing,
    Code(u32),
}

impl DcrReference {
    /// Prepares `table` as the reference: numeric ranges are taken from it.
    pub fn new(table: &Table) -> Self {
        let columns = table
            .columns
            .iter()
            .map(|values| match values {
                Values::Categorical(codes) => RefColumn::Codes {
                    codes: codes.clone(),
                    constant: None,
                },
                Values::Numeric(v) => {
                    let range = present_range(v);
                    if let Some((lo, hi)) = range.filter(|(lo, hi)| hi > lo) {
                        let scale = 1.0 / (hi - lo);
                        RefColumn::Scaled {
                            values: v.iter().map(|&x| (x * scale) as f32).collect(),
                            missing: v.iter().map(|x| f32::from(u8::from(x.is_nan()))).collect(),
                            scale,
                        }
                    } else {
                        let constant = range.map(|(lo, _)| lo);
                        RefColumn::Codes {
                            codes: v.iter().map(|&x| constant_code(x, constant)).collect(),
                            constant,
                        }
                    }
                }
            })
            .collect();
        DcrReference {
            columns,
            rows: table.rows,
        }
    }

    fn query_value(&self, column: usize, values: &Values, row: usize) -> QueryValue {
        match (&self.columns[column], values) {
            (RefColumn::Scaled { scale, .. }, Values::Numeric(v)) => {
                if v[row].is_nan() {
                    QueryValue::Missing
                } else {
                    QueryValue::Scaled((v[row] * scale) as f32)
                }
            }
            (RefColumn::Codes { constant, .. }, Values::Numeric(v)) => {
                QueryValue::Code(constant_code(v[row], *constant))
            }
            (RefColumn::Codes { .. }, Values::Categorical(c)) => QueryValue::Code(c[row]),
            (RefColumn::Scaled { .. }, Values::Categorical(_)) => {
                unreachable!("aligned tables share each column's kind")
            }
        }
    }

    /// The distance from each row of `query` to its closest reference row, in [0, 1].
    /// `progress` is called with the number of query rows finished, chunk by chunk.
    pub fn distances(&self, query: &Table, progress: &(dyn Fn(u64) + Sync)) -> Vec<f64> {
        let n_columns = self.columns.len().max(1) as f32;
        let mut out = vec![0.0; query.rows];
        out.par_chunks_mut(256)
            .enumerate()
            .for_each(|(chunk, out)| {
                let first = chunk * 256;
                let mut best = vec![f32::INFINITY; out.len()];
                let mut acc = vec![0.0f32; TILE];
                let queries: Vec<Vec<QueryValue>> = (first..first + out.len())
                    .map(|row| {
                        (0..self.columns.len())
                            .map(|c| self.query_value(c, &query.columns[c], row))
                            .collect()
                    })
                    .collect();
                for start in (0..self.rows).step_by(TILE) {
                    let end = (start + TILE).min(self.rows);
                    let acc = &mut acc[..end - start];
                    for (q, best) in queries.iter().zip(best.iter_mut()) {
                        acc.fill(0.0);
                        for (column, value) in self.columns.iter().zip(q) {
                            add_distances(acc, column, value, start..end);
                        }
                        let nearest = acc.iter().copied().fold(f32::INFINITY, f32::min);
                        *best = best.min(nearest);
                    }
                }
                for (o, b) in out.iter_mut().zip(best) {
                    *o = f64::from(b / n_columns);
                }
                progress(out.len() as u64);
            });
        out
    }
}

/// A constant reference column's value as a code: 0 for the constant, [`MISSING`] for missing,
/// 1 for any other number.
fn constant_code(x: f64, constant: Option<f64>) -> u32 {
    if x.is_nan() {
        MISSING
    } else if Some(x) == constant {
        0
    } else {
        1
    }
}

/// Adds one column's distances from the query value to the reference rows `range`.
fn add_distances(
    acc: &mut [f32],
    column: &RefColumn,
    value: &QueryValue,
    range: std::ops::Range<usize>,
) {
    match (column, value) {
        (RefColumn::Scaled { values, .. }, QueryValue::Scaled(q)) => {
            for (a, &r) in acc.iter_mut().zip(&values[range]) {
                let d = (q - r).abs();
                // A missing reference value gives NaN, which fails the test: distance 1.
                *a += if d < 1.0 { d } else { 1.0 };
            }
        }
        (RefColumn::Scaled { missing, .. }, QueryValue::Missing) => {
            for (a, &m) in acc.iter_mut().zip(&missing[range]) {
                *a += 1.0 - m;
            }
        }
        (RefColumn::Codes { codes, .. }, QueryValue::Code(q)) => {
            for (a, &r) in acc.iter_mut().zip(&codes[range]) {
                *a += f32::from(u8::from(r != *q));
            }
        }
        _ => unreachable!("query values are prepared for their column"),
    }
}

/// Summary of a set of distances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistanceSummary {
    /// Median distance.
    pub median: f64,
    /// Mean distance.
    pub mean: f64,
    /// 5th percentile.
    pub p05: f64,
    /// Smallest distance.
    pub min: f64,
    /// Number of rows measured.
    pub rows: usize,
}

impl DistanceSummary {
    fn of(d: &[f64]) -> Option<Self> {
        let mut sorted = d.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(DistanceSummary {
            median: percentile_sorted(&sorted, 50.0)?,
            mean: mean(d)?,
            p05: percentile_sorted(&sorted, 5.0)?,
            min: *sorted.first()?,
            rows: d.len(),
        })
    }
}

/// The privacy section of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Privacy {
    /// Median distance from a synthetic row to its closest training row.
    pub dcr_synthetic_to_train_median: Option<f64>,
    /// Median distance from a holdout row to its closest training row (the baseline a
    /// generator that does not copy should reach).
    pub dcr_holdout_to_train_median: Option<f64>,
    /// Synthetic-to-train distances.
    pub dcr_synthetic_to_train: Option<DistanceSummary>,
    /// Holdout-to-train distances.
    pub dcr_holdout_to_train: Option<DistanceSummary>,
    /// SDMetrics' DCROverfittingProtection, mean over the repeats: min(2 (1 - share of
    /// synthetic rows closer to a training subsample than to the holdout), 1).
    pub dcr_overfitting_protection: Option<f64>,
    /// Smallest and largest score over the repeats (each a new training subsample).
    pub dcr_overfitting_protection_interval: Option<Interval>,
    /// Mean share of synthetic rows strictly closer to the training subsample than to the
    /// holdout (0.5 for a generator that generalises).
    pub closer_to_train_share: Option<f64>,
    /// Number of repeats behind the two figures above.
    pub overfitting_repeats: usize,
    /// Synthetic rows identical to a training row, in every evaluated column.
    pub exact_copies: usize,
    /// `exact_copies` / synthetic rows.
    pub exact_copy_share: f64,
    /// A membership-inference attack that calls a real row a training member when it is close
    /// to a synthetic row: ROC AUC of training rows against holdout rows (0.5: no leak).
    pub membership_inference_auc: Option<f64>,
    /// 95% bootstrap interval of that AUC.
    pub membership_inference_auc_interval: Option<Interval>,
}

/// Computes the privacy section. `train` is the table the generator learned from; the
/// overfitting and membership figures need `holdout`.
pub fn privacy(
    train: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    repeats: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Privacy {
    let advance = |rows| progress.advance(rows);
    let full = DcrReference::new(train);
    progress.step(
        "distance to closest record: synthetic -> train",
        synthetic.rows as u64,
    );
    let d_syn = full.distances(synthetic, &advance);
    let exact = exact_copies(train, synthetic);
    let to_train = DistanceSummary::of(&d_syn);
    let mut out = Privacy {
        dcr_synthetic_to_train_median: to_train.as_ref().map(|s| s.median),
        dcr_holdout_to_train_median: None,
        dcr_synthetic_to_train: to_train,
        dcr_holdout_to_train: None,
        dcr_overfitting_protection: None,
        dcr_overfitting_protection_interval: None,
        closer_to_train_share: None,
        overfitting_repeats: 0,
        exact_copies: exact,
        exact_copy_share: exact as f64 / synthetic.rows.max(1) as f64,
        membership_inference_auc: None,
        membership_inference_auc_interval: None,
    };
    let Some(holdout) = holdout else {
        return out;
    };
    progress.step(
        "distance to closest record: holdout -> train",
        holdout.rows as u64,
    );
    let d_hold = full.distances(holdout, &advance);
    out.dcr_holdout_to_train = DistanceSummary::of(&d_hold);
    out.dcr_holdout_to_train_median = out.dcr_holdout_to_train.as_ref().map(|s| s.median);

    // Overfitting protection: a training subsample as large as the holdout, against the
    // holdout, each with its own ranges (as SDMetrics and the judge compute it).
    let n = holdout.rows.min(train.rows);
    let holdout_part = holdout.select(&(0..n).collect::<Vec<_>>());
    progress.step(
        "overfitting protection: synthetic -> holdout",
        synthetic.rows as u64,
    );
    let d_to_holdout = DcrReference::new(&holdout_part).distances(synthetic, &advance);
    let mut shares = Vec::new();
    let mut members = None;
    for repeat in 0..repeats {
        let mut rng = seeded_rng(seed.wrapping_add(repeat as u64));
        let picked = sample(&mut rng, train.rows, n).into_vec();
        let subsample = train.select(&picked);
        progress.step(
            "overfitting protection: synthetic -> train subsample",
            synthetic.rows as u64,
        );
        let d_to_train = DcrReference::new(&subsample).distances(synthetic, &advance);
        let closer = d_to_train
            .iter()
            .zip(&d_to_holdout)
            .filter(|(a, b)| a < b)
            .count();
        shares.push(closer as f64 / synthetic.rows as f64);
        members.get_or_insert(subsample);
    }
    let scores: Vec<f64> = shares.iter().map(|s| (2.0 * (1.0 - s)).min(1.0)).collect();
    out.dcr_overfitting_protection = mean(&scores);
    out.dcr_overfitting_protection_interval = Interval::min_max(&scores);
    out.closer_to_train_share = mean(&shares);
    out.overfitting_repeats = repeats;

    // Membership inference: training members and holdout rows, scored by closeness to the
    // synthetic rows.
    if let Some(members) = members {
        let to_synthetic = DcrReference::new(synthetic);
        progress.step("membership inference: real -> synthetic", 2 * n as u64);
        let d_members = to_synthetic.distances(&members, &advance);
        let d_others = to_synthetic.distances(&holdout_part, &advance);
        let is_member: Vec<bool> = (0..2 * n).map(|i| i < n).collect();
        let closeness: Vec<f64> = d_members.iter().chain(&d_others).map(|d| -d).collect();
        out.membership_inference_auc = roc_auc(&is_member, &closeness);
        let [interval] = bootstrap(2 * n, seed, |index| {
            let labels: Vec<bool> = index.iter().map(|&i| is_member[i]).collect();
            let scores: Vec<f64> = index.iter().map(|&i| closeness[i]).collect();
            [roc_auc(&labels, &scores)]
        });
        out.membership_inference_auc_interval = interval;
    }
    out
}

/// Number of synthetic rows equal to some training row in every column.
pub fn exact_copies(train: &Table, synthetic: &Table) -> usize {
    let key = |table: &Table, row: usize| -> Vec<u64> {
        table
            .columns
            .iter()
            .map(|values| match values {
                // One bit pattern for every NaN, and 0.0 == -0.0.
                Values::Numeric(v) if v[row].is_nan() => u64::MAX,
                Values::Numeric(v) => (v[row] + 0.0).to_bits(),
                Values::Categorical(c) => u64::from(c[row]),
            })
            .collect()
    };
    let seen: HashSet<Vec<u64>> = (0..train.rows).map(|r| key(train, r)).collect();
    (0..synthetic.rows)
        .filter(|&r| seen.contains(&key(synthetic, r)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f64 = f64::NAN;

    fn table(numbers: Vec<f64>, codes: Vec<u32>) -> Table {
        Table {
            rows: numbers.len(),
            columns: vec![Values::Numeric(numbers), Values::Categorical(codes)],
        }
    }

    #[test]
    fn distances_by_hand() {
        // Reference range 0..10.
        let reference = table(vec![0.0, 10.0, NAN], vec![0, 1, MISSING]);
        let query = table(vec![1.0, 30.0, NAN, 5.0], vec![1, 0, MISSING, 2]);
        let d = DcrReference::new(&reference).distances(&query, &|_| {});
        // row 0: to (0, a): (0.1 + 1) / 2; to (10, b): (0.9 + 0) / 2 = 0.45; to (NaN, -): 1.
        assert!((d[0] - 0.45).abs() < 1e-6, "{d:?}");
        // row 1: 30 is 2 ranges away from 10, capped at 1: to (0, a): (1 + 0) / 2 = 0.5.
        assert!((d[1] - 0.5).abs() < 1e-6, "{d:?}");
        // row 2: missing matches missing in both columns.
        assert_eq!(d[2], 0.0);
        // row 3: category 2 is new: to (0 or 10): (0.5 + 1) / 2.
        assert!((d[3] - 0.75).abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn distances_match_brute_force_over_many_tiles() {
        let n = 5000;
        let reference = table(
            (0..n).map(|i| ((i * 7919) % 1000) as f64).collect(),
            (0..n).map(|i| (i % 3) as u32).collect(),
        );
        let query = table(
            (0..300).map(|i| (i * 37 % 1100) as f64 + 0.5).collect(),
            (0..300).map(|i| (i % 4) as u32).collect(),
        );
        let fast = DcrReference::new(&reference).distances(&query, &|_| {});
        let (r_num, r_cat) = (reference.numeric(0).unwrap(), reference.codes(1).unwrap());
        for (q, fast) in fast.iter().enumerate() {
            let (x, c) = (query.numeric(0).unwrap()[q], query.codes(1).unwrap()[q]);
            let slow = (0..n)
                .map(|r| {
                    (((x - r_num[r]).abs() / 999.0).min(1.0) + f64::from(u8::from(c != r_cat[r])))
                        / 2.0
                })
                .fold(f64::INFINITY, f64::min);
            assert!((fast - slow).abs() < 1e-6, "row {q}: {fast} vs {slow}");
        }
    }

    #[test]
    fn constant_reference_column_counts_any_difference() {
        let reference = table(vec![5.0, 5.0], vec![0, 0]);
        let query = table(vec![5.0, 5.1, NAN], vec![0, 0, 0]);
        let d = DcrReference::new(&reference).distances(&query, &|_| {});
        assert_eq!(d, [0.0, 0.5, 0.5]);
    }

    #[test]
    fn exact_copies_are_counted() {
        let train = table(vec![1.0, 2.0, NAN], vec![0, 1, 1]);
        let synthetic = table(vec![1.0, 2.0, NAN, 1.0], vec![0, 0, 1, 1]);
        assert_eq!(exact_copies(&train, &synthetic), 2);
    }

    #[test]
    fn copying_the_training_rows_scores_as_overfitting() {
        // Training rows 0..400, holdout rows between them: a generator that copies training
        // rows is closer to train for every row.
        let train = table((0..400).map(|i| i as f64).collect(), vec![0; 400]);
        let holdout = table(
            (0..100).map(|i| i as f64 * 4.0 + 0.5).collect(),
            vec![0; 100],
        );
        let copies = train.clone();
        let p = privacy(&train, &copies, Some(&holdout), 3, 1, &crate::NoProgress);
        assert_eq!(p.exact_copies, 400);
        assert_eq!(p.exact_copy_share, 1.0);
        assert_eq!(p.dcr_synthetic_to_train_median, Some(0.0));
        assert!(p.dcr_holdout_to_train_median.unwrap() > 0.0);
        // Each train subsample holds 100 of the 400 rows: a copied row is closer to the
        // subsample than to the holdout only when it was drawn (exactly 0) or near a drawn
        // row, so about a quarter or more, never all.
        let share = p.closer_to_train_share.unwrap();
        assert!(share > 0.25 && share < 1.0, "{share}");
        let interval = p.dcr_overfitting_protection_interval.unwrap();
        assert!(interval.low <= p.dcr_overfitting_protection.unwrap());
        // Members are copied exactly, so the attack separates them perfectly.
        assert_eq!(p.membership_inference_auc, Some(1.0));
    }
}
