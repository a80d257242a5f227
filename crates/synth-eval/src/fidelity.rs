//! Fidelity of the synthetic rows to the real ones, computed as SDMetrics 0.32's QualityReport
//! computes it: Column Shapes (KSComplement, TVComplement), Column Pair Trends
//! (CorrelationSimilarity, ContingencySimilarity) and their mean; plus per-column missing-value
//! shares, boundary and category adherence, and range and category coverage.
//!
//! As in SDMetrics 0.32's QualityReport, a pair counts towards Column Pair Trends only when the
//! real columns are related: |Pearson r| > 0.5 for two continuous columns, Cramér's V > 0.3
//! (of the real contingency table) for the others.

use crate::stats::{mean_present, present_range};
use crate::table::{MISSING, Schema, Table, Values};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use synth_core::ColumnKind;

/// Number of equal-width bins a continuous column is cut into for ContingencySimilarity.
const BINS: usize = 10;
/// A continuous pair counts when the real |Pearson r| exceeds this.
pub const REAL_CORRELATION_THRESHOLD: f64 = 0.5;
/// Any other pair counts when the real Cramér's V exceeds this.
pub const REAL_ASSOCIATION_THRESHOLD: f64 = 0.3;

/// Fidelity of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnQuality {
    /// Column name.
    pub name: String,
    /// `continuous` or `discrete`.
    pub kind: ColumnKind,
    /// `KSComplement` (continuous) or `TVComplement` (discrete).
    pub metric: &'static str,
    /// Its score in [0, 1] (`None` when a table has no value in the column).
    pub score: Option<f64>,
    /// Share of real rows missing a value.
    pub missing_share_real: f64,
    /// Share of synthetic rows missing a value.
    pub missing_share_synthetic: f64,
    /// Continuous: share of synthetic values within the real minimum and maximum.
    pub boundary_adherence: Option<f64>,
    /// Discrete: share of synthetic values that are real categories.
    pub category_adherence: Option<f64>,
    /// Continuous: how much of the real range the synthetic values span (SDMetrics RangeCoverage).
    pub range_coverage: Option<f64>,
    /// Discrete: share of the real categories that the synthetic rows contain.
    pub category_coverage: Option<f64>,
}

/// Fidelity of one pair of columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairQuality {
    /// First column (earlier in the table).
    pub column_1: String,
    /// Second column.
    pub column_2: String,
    /// `CorrelationSimilarity` (two continuous columns) or `ContingencySimilarity`.
    pub metric: &'static str,
    /// Its score in [0, 1]; `None` where SDMetrics gives none: the real columns are not
    /// related enough (see `counted`), or a column is constant.
    pub score: Option<f64>,
    /// Pearson correlation in the real rows (continuous pairs).
    pub real_correlation: Option<f64>,
    /// Pearson correlation in the synthetic rows (continuous pairs).
    pub synthetic_correlation: Option<f64>,
    /// Cramér's V of the real rows' contingency table (other pairs).
    pub real_association: Option<f64>,
    /// Whether the pair counts towards Column Pair Trends: real |r| > 0.5 or Cramér's V > 0.3.
    pub counted: bool,
}

/// SDMetrics' quality report: the property scores and their details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// Mean of the two property scores.
    pub overall: Option<f64>,
    /// Column Shapes: mean of the column scores.
    pub column_shapes: Option<f64>,
    /// Column Pair Trends: mean of the scores of the pairs that count.
    pub column_pair_trends: Option<f64>,
    /// Mean boundary adherence over continuous columns.
    pub boundary_adherence: Option<f64>,
    /// Mean category adherence over discrete columns.
    pub category_adherence: Option<f64>,
    /// Per column, in table order.
    pub columns: Vec<ColumnQuality>,
    /// Per pair of columns, in SDMetrics' order (each column with every later one).
    pub pairs: Vec<PairQuality>,
}

/// Scores the synthetic table against the real one.
pub fn quality(schema: &Schema, real: &Table, synthetic: &Table) -> Quality {
    let columns: Vec<ColumnQuality> = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| column_quality(&column.name, &real.columns[i], &synthetic.columns[i]))
        .collect();
    // Continuous columns as bin codes, each table binned on its own range (as SDMetrics does).
    let binned: Vec<Option<(Vec<u32>, Vec<u32>)>> = (0..schema.columns.len())
        .map(|i| {
            Some((
                bin_codes(real.numeric(i)?),
                bin_codes(synthetic.numeric(i)?),
            ))
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..schema.columns.len() {
        for j in i + 1..schema.columns.len() {
            pairs.push(pair_quality(schema, real, synthetic, &binned, i, j));
        }
    }
    let column_shapes = mean_present(columns.iter().map(|c| c.score));
    let column_pair_trends = mean_present(pairs.iter().filter(|p| p.counted).map(|p| p.score));
    Quality {
        overall: mean_present([column_shapes, column_pair_trends]),
        column_shapes,
        column_pair_trends,
        boundary_adherence: mean_present(columns.iter().map(|c| c.boundary_adherence)),
        category_adherence: mean_present(columns.iter().map(|c| c.category_adherence)),
        columns,
        pairs,
    }
}

fn column_quality(name: &str, real: &Values, synthetic: &Values) -> ColumnQuality {
    let missing_share = |values: &Values| match values {
        Values::Numeric(v) => v.iter().filter(|x| x.is_nan()).count() as f64 / v.len() as f64,
        Values::Categorical(c) => {
            c.iter().filter(|&&x| x == MISSING).count() as f64 / c.len() as f64
        }
    };
    let (kind, metric, score) = match (real, synthetic) {
        (Values::Numeric(r), Values::Numeric(s)) => {
            (ColumnKind::Continuous, "KSComplement", ks_complement(r, s))
        }
        (Values::Categorical(r), Values::Categorical(s)) => {
            (ColumnKind::Discrete, "TVComplement", tv_complement(r, s))
        }
        _ => unreachable!("aligned tables share each column's kind"),
    };
    let mut quality = ColumnQuality {
        name: name.to_string(),
        kind,
        metric,
        score,
        missing_share_real: missing_share(real),
        missing_share_synthetic: missing_share(synthetic),
        boundary_adherence: None,
        category_adherence: None,
        range_coverage: None,
        category_coverage: None,
    };
    match (real, synthetic) {
        (Values::Numeric(r), Values::Numeric(s)) => {
            quality.boundary_adherence = boundary_adherence(r, s);
            quality.range_coverage = range_coverage(r, s);
        }
        (Values::Categorical(r), Values::Categorical(s)) => {
            quality.category_adherence = category_adherence(r, s);
            quality.category_coverage = category_coverage(r, s);
        }
        _ => {}
    }
    quality
}

fn present(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// 1 - the two-sample Kolmogorov-Smirnov statistic over the non-missing values.
pub fn ks_complement(real: &[f64], synthetic: &[f64]) -> Option<f64> {
    let mut a = present(real);
    let mut b = present(synthetic);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    Some(1.0 - d)
}

fn frequencies(codes: &[u32]) -> HashMap<u32, f64> {
    let mut counts = HashMap::new();
    let mut total = 0usize;
    for &c in codes.iter().filter(|&&c| c != MISSING) {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    counts
        .into_iter()
        .map(|(c, n)| (c, n as f64 / total as f64))
        .collect()
}

/// The keys of two maps, each once, in ascending order: sums over them then add in the same
/// order in every run (a `HashMap`'s own order changes from process to process, and with it
/// the last digits of a float sum).
fn sorted_union<'a, K: Ord + Copy + 'a>(
    a: impl Iterator<Item = &'a K>,
    b: impl Iterator<Item = &'a K>,
) -> Vec<K> {
    let mut keys: Vec<K> = a.chain(b).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// 1 - total variation distance between the category frequencies (missing values dropped).
pub fn tv_complement(real: &[u32], synthetic: &[u32]) -> Option<f64> {
    let (r, s) = (frequencies(real), frequencies(synthetic));
    if r.is_empty() || s.is_empty() {
        return None;
    }
    let keys = sorted_union(r.keys(), s.keys());
    let tv: f64 = keys
        .iter()
        .map(|k| (r.get(k).unwrap_or(&0.0) - s.get(k).unwrap_or(&0.0)).abs())
        .sum();
    Some(1.0 - 0.5 * tv)
}

/// Share of synthetic values within the real range; missing synthetic values count as outside
/// unless the real column has missing values too (SDMetrics BoundaryAdherence).
pub fn boundary_adherence(real: &[f64], synthetic: &[f64]) -> Option<f64> {
    let (lo, hi) = present_range(real)?;
    let nullable = real.iter().any(|v| v.is_nan());
    let considered: Vec<f64> = synthetic
        .iter()
        .copied()
        .filter(|v| !(nullable && v.is_nan()))
        .collect();
    let inside = considered.iter().filter(|&&v| v >= lo && v <= hi).count();
    (!considered.is_empty()).then(|| inside as f64 / considered.len() as f64)
}

/// Share of synthetic values that are categories of the real column (a missing value counts
/// when the real column has missing values too).
pub fn category_adherence(real: &[u32], synthetic: &[u32]) -> Option<f64> {
    let seen: HashSet<u32> = real.iter().copied().collect();
    let valid = synthetic.iter().filter(|c| seen.contains(c)).count();
    (!synthetic.is_empty()).then(|| valid as f64 / synthetic.len() as f64)
}

/// How much of the real range the synthetic range covers (SDMetrics RangeCoverage).
pub fn range_coverage(real: &[f64], synthetic: &[f64]) -> Option<f64> {
    let (min_r, max_r) = present_range(real)?;
    let (min_s, max_s) = present_range(synthetic)?;
    if min_r == max_r {
        return None;
    }
    let low = ((min_s - min_r) / (max_r - min_r)).max(0.0);
    let high = ((max_r - max_s) / (max_r - min_r)).max(0.0);
    Some((1.0 - (low + high)).max(0.0))
}

/// Share of the real categories present among the synthetic values (SDMetrics CategoryCoverage).
pub fn category_coverage(real: &[u32], synthetic: &[u32]) -> Option<f64> {
    let real: HashSet<u32> = real.iter().copied().filter(|&c| c != MISSING).collect();
    let synthetic: HashSet<u32> = synthetic
        .iter()
        .copied()
        .filter(|&c| c != MISSING)
        .collect();
    (!real.is_empty()).then(|| real.intersection(&synthetic).count() as f64 / real.len() as f64)
}

/// Pearson correlation over the rows where both values are present (`None` when undefined).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|(&a, &b)| (a, b))
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

fn distinct_present(values: &[f64]) -> usize {
    values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| v.to_bits())
        .collect::<HashSet<_>>()
        .len()
}

/// The bin of each value among 10 equal-width bins over the non-missing values' range, as
/// `numpy.digitize(x, numpy.histogram_bin_edges(x))`: bin `k` holds `edge[k-1] <= x < edge[k]`,
/// so the maximum gets bin 11 of its own, and missing values bin 11 too.
pub fn bin_codes(values: &[f64]) -> Vec<u32> {
    let (mut lo, mut hi) = present_range(values).unwrap_or((0.0, 1.0));
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    // numpy.linspace: start + i * step, the last edge exactly the stop.
    let step = (hi - lo) / BINS as f64;
    let mut edges: Vec<f64> = (0..=BINS).map(|i| i as f64 * step + lo).collect();
    edges[BINS] = hi;
    values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                (BINS + 1) as u32
            } else {
                edges.partition_point(|&e| e <= v) as u32
            }
        })
        .collect()
}

fn pair_quality(
    schema: &Schema,
    real: &Table,
    synthetic: &Table,
    binned: &[Option<(Vec<u32>, Vec<u32>)>],
    i: usize,
    j: usize,
) -> PairQuality {
    let mut pair = PairQuality {
        column_1: schema.columns[i].name.clone(),
        column_2: schema.columns[j].name.clone(),
        metric: "ContingencySimilarity",
        score: None,
        real_correlation: None,
        synthetic_correlation: None,
        real_association: None,
        counted: false,
    };
    if let (Some(ri), Some(rj), Some(si), Some(sj)) = (
        real.numeric(i),
        real.numeric(j),
        synthetic.numeric(i),
        synthetic.numeric(j),
    ) {
        pair.metric = "CorrelationSimilarity";
        // SDMetrics rejects a column with a single distinct value in either table.
        if [ri, rj, si, sj].iter().any(|v| distinct_present(v) == 1) {
            return pair;
        }
        pair.real_correlation = pearson(ri, rj);
        pair.synthetic_correlation = pearson(si, sj);
        pair.counted = pair
            .real_correlation
            .is_some_and(|r| r.abs() > REAL_CORRELATION_THRESHOLD);
        if let (true, Some(r), Some(s)) = (
            pair.counted,
            pair.real_correlation,
            pair.synthetic_correlation,
        ) {
            pair.score = Some(1.0 - (r - s).abs() / 2.0);
        }
        pair.counted &= pair.score.is_some();
        return pair;
    }
    let codes = |table: &Table, k: usize, real_side: bool| -> Vec<u32> {
        match (&table.columns[k], &binned[k]) {
            (Values::Categorical(c), _) => c.clone(),
            (Values::Numeric(_), Some((r, s))) => if real_side { r } else { s }.clone(),
            (Values::Numeric(_), None) => unreachable!("continuous columns are binned"),
        }
    };
    let real_pair = (codes(real, i, true), codes(real, j, true));
    let real_counts = joint_counts((&real_pair.0, &real_pair.1));
    pair.real_association = cramers_v(&real_counts);
    pair.counted = pair
        .real_association
        .is_some_and(|v| v > REAL_ASSOCIATION_THRESHOLD);
    if pair.counted {
        pair.score = Some(contingency_similarity(
            (&real_pair.0, &real_pair.1),
            (&codes(synthetic, i, false), &codes(synthetic, j, false)),
        ));
    }
    pair
}

fn joint_counts((a, b): (&[u32], &[u32])) -> HashMap<(u32, u32), usize> {
    let mut counts = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *counts.entry((x, y)).or_default() += 1;
    }
    counts
}

/// Cramér's V of a contingency table given as its non-zero cells: sqrt(chi^2 / (n (k - 1)))
/// with chi^2 Pearson's statistic (no continuity correction) and k the smaller of the numbers
/// of rows and columns, as `scipy.stats.contingency.association`. `None` when k < 2.
pub fn cramers_v(cells: &HashMap<(u32, u32), usize>) -> Option<f64> {
    let mut rows = HashMap::<u32, f64>::new();
    let mut cols = HashMap::<u32, f64>::new();
    let mut n = 0.0;
    for (&(a, b), &count) in cells {
        *rows.entry(a).or_default() += count as f64;
        *cols.entry(b).or_default() += count as f64;
        n += count as f64;
    }
    let k = rows.len().min(cols.len());
    if k < 2 {
        return None;
    }
    // chi^2 = sum over all cells (O - E)^2 / E = sum over non-zero cells O^2 / E - n.
    // Summed in key order, the same in every run (see `sorted_union`).
    let mut ordered: Vec<(&(u32, u32), &usize)> = cells.iter().collect();
    ordered.sort_unstable();
    let observed_part: f64 = ordered
        .into_iter()
        .map(|(&(a, b), &count)| {
            let expected = rows[&a] * cols[&b] / n;
            (count as f64).powi(2) / expected
        })
        .sum();
    let chi2 = (observed_part - n).max(0.0);
    Some((chi2 / (n * (k - 1) as f64)).sqrt())
}

/// 1 - total variation distance between the joint frequencies of two code columns in each
/// table; missing values are a category of their own.
pub fn contingency_similarity(real: (&[u32], &[u32]), synthetic: (&[u32], &[u32])) -> f64 {
    let (r, nr) = (joint_counts(real), real.0.len() as f64);
    let (s, ns) = (joint_counts(synthetic), synthetic.0.len() as f64);
    let keys = sorted_union(r.keys(), s.keys());
    let tv: f64 = keys
        .iter()
        .map(|k| {
            let pr = *r.get(k).unwrap_or(&0) as f64 / nr;
            let ps = *s.get(k).unwrap_or(&0) as f64 / ns;
            (pr - ps).abs()
        })
        .sum();
    1.0 - 0.5 * tv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::SchemaColumn;

    const NAN: f64 = f64::NAN;

    #[test]
    fn ks_complement_by_hand() {
        // ECDFs at 1,2,3,4: real 1/3, 2/3, 1, 1; synthetic 0, 1/2, 1/2, 1 -> D = 1/2 at 3.
        let ks = ks_complement(&[1.0, 2.0, 3.0, NAN], &[4.0, 2.0]).unwrap();
        assert!((ks - 0.5).abs() < 1e-12, "{ks}");
        assert_eq!(ks_complement(&[1.0, 2.0], &[2.0, 1.0]), Some(1.0));
        assert_eq!(ks_complement(&[NAN], &[1.0]), None);
    }

    #[test]
    fn tv_complement_by_hand() {
        // real a 1/2, b 1/2; synthetic a 1/4, b 1/4, c 1/2 (missing dropped):
        // TV = (1/4 + 1/4 + 1/2) / 2 = 1/2.
        let tv = tv_complement(&[0, 1, 0, 1, MISSING], &[0, 1, 2, 2]).unwrap();
        assert!((tv - 0.5).abs() < 1e-12);
    }

    #[test]
    fn adherence_and_coverage_by_hand() {
        assert_eq!(
            boundary_adherence(&[0.0, 10.0], &[5.0, 11.0, NAN, -1.0]),
            Some(0.25)
        );
        // A real missing value makes missing synthetic values acceptable (and uncounted).
        assert_eq!(
            boundary_adherence(&[0.0, 10.0, NAN], &[5.0, NAN]),
            Some(1.0)
        );
        assert_eq!(category_adherence(&[0, 1], &[0, 2, MISSING, 1]), Some(0.5));
        assert_eq!(category_adherence(&[0, MISSING], &[0, MISSING]), Some(1.0));
        // synthetic spans 2..9 of 0..10: 1 - (0.2 + 0.1).
        assert!((range_coverage(&[0.0, 10.0], &[2.0, 9.0]).unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(range_coverage(&[3.0, 3.0], &[3.0]), None);
        assert_eq!(
            category_coverage(&[0, 1, 2, MISSING], &[2, 2, 5]),
            Some(1.0 / 3.0)
        );
    }

    #[test]
    fn bins_follow_numpy_digitize() {
        // edges 0, 1, ..., 10: 0 -> 1, 0.5 -> 1, 1 -> 2, 9.99 -> 10, 10 (the max) -> 11.
        let codes = bin_codes(&[0.0, 0.5, 1.0, 9.99, 10.0, NAN]);
        assert_eq!(codes, [1, 1, 2, 10, 11, 11]);
        // A constant column: edges 4.5 .. 5.5, the value falls in bin 6.
        assert_eq!(bin_codes(&[5.0, 5.0]), [6, 6]);
    }

    #[test]
    fn contingency_by_hand() {
        // real cells (0,0) 1/2, (1,1) 1/2; synthetic (0,0) 1/4, (1,1) 1/4, (0,1) 1/2.
        let s = contingency_similarity(
            (&[0, 1, 0, 1], &[0, 1, 0, 1]),
            (&[0, 1, 0, 0], &[0, 1, 1, 1]),
        );
        assert!((s - 0.5).abs() < 1e-12, "{s}");
        // Missing is a category of its own.
        assert_eq!(
            contingency_similarity((&[MISSING], &[0]), (&[0], &[0])),
            0.0
        );
    }

    #[test]
    fn cramers_v_by_hand() {
        let table =
            |cells: &[((u32, u32), usize)]| cells.iter().copied().collect::<HashMap<_, _>>();
        assert_eq!(cramers_v(&table(&[((0, 0), 10), ((1, 1), 10)])), Some(1.0));
        assert_eq!(
            cramers_v(&table(&[
                ((0, 0), 5),
                ((0, 1), 5),
                ((1, 0), 5),
                ((1, 1), 5)
            ])),
            Some(0.0)
        );
        // Expected 15 in each cell: chi^2 = 4 * 25 / 15, V = sqrt(chi^2 / 60) = 1/3.
        let v = cramers_v(&table(&[
            ((0, 0), 20),
            ((0, 1), 10),
            ((1, 0), 10),
            ((1, 1), 20),
        ]))
        .unwrap();
        assert!((v - 1.0 / 3.0).abs() < 1e-12, "{v}");
        assert_eq!(cramers_v(&table(&[((0, 0), 5), ((0, 1), 5)])), None);
    }

    #[test]
    fn unrelated_real_columns_do_not_count() {
        let s = schema(&[
            ("x", ColumnKind::Continuous),
            ("y", ColumnKind::Continuous),
            ("c", ColumnKind::Discrete),
            ("d", ColumnKind::Discrete),
        ]);
        // x and y uncorrelated (r = 0); c and d independent (V = 0); x and c related.
        let real = Table {
            rows: 4,
            columns: vec![
                Values::Numeric(vec![1.0, 2.0, 3.0, 4.0]),
                Values::Numeric(vec![1.0, -1.0, -1.0, 1.0]),
                Values::Categorical(vec![0, 0, 1, 1]),
                Values::Categorical(vec![0, 1, 0, 1]),
            ],
        };
        let q = quality(&s, &real, &real);
        let pair = |a: &str, b: &str| {
            q.pairs
                .iter()
                .find(|p| p.column_1 == a && p.column_2 == b)
                .unwrap()
        };
        assert!(!pair("x", "y").counted && pair("x", "y").score.is_none());
        assert_eq!(pair("x", "y").real_correlation, Some(0.0));
        assert!(!pair("c", "d").counted && pair("c", "d").real_association == Some(0.0));
        assert!(pair("x", "c").counted && pair("x", "c").score == Some(1.0));
        assert_eq!(q.column_pair_trends, Some(1.0));
    }

    #[test]
    fn sums_over_categories_are_bit_identical_every_time() {
        // Each HashMap iterates in its own order; the sums must not depend on it.
        let a: Vec<u32> = (0..5000).map(|i| (i * 7 % 13) as u32).collect();
        let b: Vec<u32> = (0..5000).map(|i| (i * 11 % 17) as u32).collect();
        let c: Vec<u32> = (0..5000).map(|i| (i * 5 % 19) as u32).collect();
        let v = cramers_v(&joint_counts((&a, &b))).unwrap();
        let s = contingency_similarity((&a, &b), (&c, &b));
        let t = tv_complement(&a, &c).unwrap();
        for _ in 0..50 {
            assert_eq!(
                cramers_v(&joint_counts((&a, &b))).unwrap().to_bits(),
                v.to_bits()
            );
            assert_eq!(
                contingency_similarity((&a, &b), (&c, &b)).to_bits(),
                s.to_bits()
            );
            assert_eq!(tv_complement(&a, &c).unwrap().to_bits(), t.to_bits());
        }
    }

    #[test]
    fn pearson_by_hand() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        // x = 1,2,3 y = 1,3,2: cov 0.5*2 = 1, sxx = 2, syy = 2 -> r = 0.5.
        let r = pearson(&[1.0, 2.0, 3.0, NAN], &[1.0, 3.0, 2.0, 7.0]).unwrap();
        assert!((r - 0.5).abs() < 1e-12, "{r}");
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    fn schema(kinds: &[(&str, ColumnKind)]) -> Schema {
        Schema {
            columns: kinds
                .iter()
                .map(|(n, k)| SchemaColumn {
                    name: n.to_string(),
                    kind: *k,
                    levels: Vec::new(),
                    date_format: None,
                })
                .collect(),
        }
    }

    #[test]
    fn report_averages_columns_and_pairs() {
        let s = schema(&[
            ("x", ColumnKind::Continuous),
            ("y", ColumnKind::Continuous),
            ("c", ColumnKind::Discrete),
        ]);
        let real = Table {
            rows: 4,
            columns: vec![
                Values::Numeric(vec![1.0, 2.0, 3.0, 4.0]),
                Values::Numeric(vec![2.0, 4.0, 6.0, 8.0]),
                Values::Categorical(vec![0, 0, 1, 1]),
            ],
        };
        let q = quality(&s, &real, &real);
        assert_eq!(q.column_shapes, Some(1.0));
        assert_eq!(q.column_pair_trends, Some(1.0));
        assert_eq!(q.overall, Some(1.0));
        assert_eq!(q.pairs.len(), 3);
        assert_eq!(q.pairs[0].metric, "CorrelationSimilarity");
        assert_eq!(q.pairs[1].metric, "ContingencySimilarity");
        // A synthetic copy whose y is reversed: correlation -1 vs 1 -> pair score 0.
        let mut syn = real.clone();
        syn.columns[1] = Values::Numeric(vec![8.0, 6.0, 4.0, 2.0]);
        let q = quality(&s, &real, &syn);
        assert!(q.pairs[0].score.unwrap().abs() < 1e-12, "{:?}", q.pairs[0]);
        assert_eq!(q.columns[1].score, Some(1.0));
        // A constant synthetic column makes its correlation pairs undefined, and they drop out
        // of the mean.
        syn.columns[1] = Values::Numeric(vec![3.0; 4]);
        let q = quality(&s, &real, &syn);
        assert_eq!(q.pairs[0].score, None);
        let expected = (q.pairs[1].score.unwrap() + q.pairs[2].score.unwrap()) / 2.0;
        assert!((q.column_pair_trends.unwrap() - expected).abs() < 1e-12);
    }
}
