//! Scores and summary statistics: ROC AUC, F1, R^2, percentiles and bootstrap intervals,
//! defined as scikit-learn and NumPy define them.

use rand::RngExt;
use serde::Serialize;
use synth_core::seed::seeded_rng;

/// Area under the ROC curve of `scores` for the `positive` rows (ties count one half), or
/// `None` when one of the two groups is empty.
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann-Whitney: the positives' rank sum, tied scores sharing their mean rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end + 1) as f64 / 2.0;
        let tied_pos = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += mean_rank * tied_pos as f64;
        start = end;
    }
    let n_pos = n_pos as f64;
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg as f64))
}

/// Share of rows whose predicted class is the true one.
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    let hits = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    hits as f64 / truth.len().max(1) as f64
}

/// Mean over `classes` of each class's F1 (0 for a class neither true nor predicted anywhere),
/// as scikit-learn's `f1_score(average="macro", labels=...)`.
pub fn f1_macro(truth: &[usize], predicted: &[usize], classes: usize) -> f64 {
    let total: f64 = (0..classes).map(|c| f1_of_class(truth, predicted, c)).sum();
    total / classes.max(1) as f64
}

/// F1 of one class: 2 TP / (2 TP + FP + FN), 0 when that is 0 / 0.
pub fn f1_of_class(truth: &[usize], predicted: &[usize], class: usize) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&t, &p) in truth.iter().zip(predicted) {
        match (t == class, p == class) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denominator = 2 * tp + fp + fn_;
    if denominator == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denominator as f64
    }
}

/// Precision and recall of the positive rows at a decision (predicted positive or not):
/// TP / (TP + FP) and TP / (TP + FN), each 0 when its denominator is 0 (scikit-learn's
/// `zero_division=0`).
pub fn precision_recall(positive: &[bool], predicted: &[bool]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&t, &p) in positive.iter().zip(predicted) {
        match (t, p) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (ratio(tp, tp + fp), ratio(tp, tp + fn_))
}

/// Harmonic mean of precision and recall (0 when both are 0).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Area under the precision-recall curve as scikit-learn's `average_precision_score`:
/// sum over the distinct score thresholds, highest first, of (R_n - R_{n-1}) P_n, tied
/// scores entering together. `None` without positive rows.
pub fn average_precision(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut recall_before, mut total) = (0usize, 0usize, 0.0, 0.0);
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        tp += order[start..end].iter().filter(|&&i| positive[i]).count();
        seen += end - start;
        let recall = tp as f64 / n_pos as f64;
        total += (recall - recall_before) * (tp as f64 / seen as f64);
        recall_before = recall;
        start = end;
    }
    Some(total)
}

/// Coefficient of determination 1 - SS_res / SS_tot (`None` for a constant truth).
pub fn r2(truth: &[f64], predicted: &[f64]) -> Option<f64> {
    let mean = truth.iter().sum::<f64>() / truth.len().max(1) as f64;
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let ss_res: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

/// Mean absolute error.
pub fn mae(truth: &[f64], predicted: &[f64]) -> f64 {
    let total: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum();
    total / truth.len().max(1) as f64
}

/// The `q`-th percentile (0..=100) of `values`, interpolating linearly between ranks as
/// NumPy's default does. `values` need not be sorted; `None` when empty.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, q)
}

/// [`percentile`] of values already sorted ascending.
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q / 100.0 * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let weight = position - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * weight)
}

/// Smallest and largest of the values that are not NaN (`None` when there are none).
pub fn present_range(values: &[f64]) -> Option<(f64, f64)> {
    let present = values.iter().copied().filter(|v| !v.is_nan());
    present.fold(None, |range, v| match range {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Arithmetic mean, `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Mean of the values that are present (`None` when none is), as NumPy's `nanmean`.
pub fn mean_present(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.into_iter().flatten().collect();
    mean(&present)
}

/// A range a random metric moves within, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Interval {
    /// Smallest and largest of `values` (`None` when empty).
    pub fn min_max(values: &[f64]) -> Option<Self> {
        present_range(values).map(|(low, high)| Interval { low, high })
    }
}

/// Number of resamples of every bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// 95% percentile-bootstrap intervals of several statistics of the same `n` rows: each of
/// [`BOOTSTRAP_RESAMPLES`] resamples draws `n` row indices with replacement and evaluates
/// `statistics` on them (resamples where a statistic is undefined are skipped for it).
pub fn bootstrap<const K: usize>(
    n: usize,
    seed: u64,
    statistics: impl Fn(&[usize]) -> [Option<f64>; K],
) -> [Option<Interval>; K] {
    let mut rng = seeded_rng(seed);
    let mut draws: [Vec<f64>; K] = std::array::from_fn(|_| Vec::new());
    let mut index = vec![0usize; n];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for i in index.iter_mut() {
            *i = rng.random_range(0..n);
        }
        for (draw, value) in draws.iter_mut().zip(statistics(&index)) {
            draw.extend(value);
        }
    }
    draws.map(|mut values| {
        values.sort_by(f64::total_cmp);
        Some(Interval {
            low: percentile_sorted(&values, 2.5)?,
            high: percentile_sorted(&values, 97.5)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_counts_ordered_pairs_and_half_ties() {
        // Pairs (pos, neg): scores pos {0.9, 0.4}, neg {0.5, 0.4, 0.1}.
        // 0.9 beats all 3; 0.4 beats 0.1, ties 0.4 (1/2), loses to 0.5: (3 + 1.5) / 6.
        let positive = [true, false, true, false, false];
        let scores = [0.9, 0.5, 0.4, 0.4, 0.1];
        assert!((roc_auc(&positive, &scores).unwrap() - 4.5 / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(roc_auc(&[true, false], &[0.2, 0.2]), Some(0.5));
    }

    #[test]
    fn f1_and_accuracy_by_hand() {
        let truth = [0, 0, 1, 1, 2];
        let pred = [0, 1, 1, 1, 0];
        // class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 1, fn 0 -> 0.8; class 2: 0.
        assert!((f1_macro(&truth, &pred, 3) - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
        assert!((accuracy(&truth, &pred) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn precision_recall_and_f1_by_hand() {
        let positive = [true, true, true, false, false, false];
        let predicted = [true, false, false, true, false, false];
        // tp 1, fp 1, fn 2: precision 1/2, recall 1/3, F1 2 (1/6) / (5/6) = 0.4
        let (p, r) = precision_recall(&positive, &predicted);
        assert_eq!((p, r), (0.5, 1.0 / 3.0));
        assert!((f1(p, r) - 0.4).abs() < 1e-12);
        // nothing predicted positive: precision 0 by convention, F1 0
        assert_eq!(precision_recall(&positive, &[false; 6]), (0.0, 0.0));
        assert_eq!(f1(0.0, 0.0), 0.0);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg):
        // thresholds give (R, P) = (1/2, 1), (1/2, 1/2), (1, 2/3), (1, 1/2):
        // AP = 1/2 * 1 + 0 + 1/2 * 2/3 + 0 = 5/6 (scikit-learn: 0.8333).
        let positive = [false, true, false, true];
        let scores = [0.1, 0.9, 0.8, 0.7];
        assert!((average_precision(&positive, &scores).unwrap() - 5.0 / 6.0).abs() < 1e-12);
        // Ties enter together: all scores equal gives the positive share.
        assert_eq!(average_precision(&positive, &[0.5; 4]), Some(0.5));
        assert_eq!(average_precision(&[false, false], &[0.1, 0.2]), None);
    }

    #[test]
    fn regression_scores_by_hand() {
        let truth = [1.0, 2.0, 3.0];
        let pred = [1.0, 2.5, 2.0];
        // ss_tot = 2, ss_res = 0.25 + 1 = 1.25.
        assert!((r2(&truth, &pred).unwrap() - (1.0 - 1.25 / 2.0)).abs() < 1e-12);
        assert!((mae(&truth, &pred) - 0.5).abs() < 1e-12);
        assert_eq!(r2(&[2.0, 2.0], &[1.0, 3.0]), None);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert!((percentile(&v, 5.0).unwrap() - 1.15).abs() < 1e-12);
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(mean_present([Some(1.0), None, Some(3.0)]), Some(2.0));
        assert_eq!(
            present_range(&[3.0, f64::NAN, -1.0, 2.0]),
            Some((-1.0, 3.0))
        );
        assert_eq!(present_range(&[f64::NAN]), None);
    }

    #[test]
    fn bootstrap_brackets_the_mean_and_is_seeded() {
        let values: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
        let stat = |idx: &[usize]| [mean(&idx.iter().map(|&i| values[i]).collect::<Vec<_>>())];
        let [a] = bootstrap(values.len(), 3, stat);
        let [b] = bootstrap(values.len(), 3, stat);
        let a = a.unwrap();
        assert_eq!(Some(a), b);
        // The mean is 4.5 with standard error 2.87 / sqrt(1000) = 0.09: the 95% interval is
        // about 4.5 +- 0.18.
        assert!(a.low < 4.5 && a.high > 4.5, "{a:?}");
        assert!(a.high - a.low > 0.2 && a.high - a.low < 0.5, "{a:?}");
    }
}
