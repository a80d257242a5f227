//! The report as one self-contained HTML page: headline scores with their spread, a chart of
//! real against synthetic values for every column, the pair-trend heatmap and the training
//! loss curves, all inline SVG (no script, no network).

use crate::stats::{Interval, present_range};
use crate::table::{MISSING, Tables, Values};
use crate::{LossCurves, Report};
use std::fmt::Write;
use synth_core::DType;

const REAL: &str = "#2f6db5";
const SYNTHETIC: &str = "#e8772e";
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}\
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:190px}\
.card b{font-size:24px;display:block}.card small,.note{color:#666}\
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}\
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:10px}\
.col{border:1px solid #eee;border-radius:6px;padding:6px}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}";

/// Renders the report; `tables` supplies the values drawn in the column charts.
pub fn render(report: &Report, tables: &Tables) -> String {
    let mut h = String::new();
    let files = &report.inputs.files;
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>synth-eval report</title><style>{STYLE}</style></head><body>\
         <h1>Synthetic data report</h1><p class=\"note\">real: {} ({} rows) &middot; synthetic: {} ({} rows){} &middot; seed {}</p>",
        escape(&files.real),
        report.inputs.rows.real,
        escape(&files.synthetic),
        report.inputs.rows.synthetic,
        match (&files.holdout, report.inputs.rows.holdout) {
            (Some(f), Some(n)) => format!(" &middot; holdout: {} ({n} rows)", escape(f)),
            _ => String::new(),
        },
        report.inputs.seed
    );
    if let Some(g) = &report.differential_privacy {
        h.push_str(&format!(
            "<h2>Differential privacy</h2><p>The model that generated these rows is ({}, {})-differentially private (from its checkpoint's manifest): the checkpoint and every sample drawn from it, together, say at most that much about any one training row. The scores below compare the rows with the real ones and are not themselves private.</p>",
            format_args!("&epsilon; = {}", g.epsilon),
            format_args!("&delta; = {:e}", g.delta),
        ));
    }
    summary(&mut h, report);
    columns(&mut h, report, tables);
    heatmap(&mut h, report);
    if let Some(curves) = &report.loss_curves {
        h.push_str("<h2>Training losses</h2>");
        loss_chart(&mut h, curves);
    }
    h.push_str("<p class=\"note\">Intervals: 95% bootstrap over the holdout rows (utility, membership inference), smallest to largest over training subsamples (overfitting protection) and over cross-validation folds (detection). Fidelity is computed as SDMetrics 0.32's QualityReport.</p></body></html>\n");
    h
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(value: Option<f64>) -> String {
    value.map_or("&ndash;".into(), |v| format!("{v:.3}"))
}

fn spread(interval: Option<Interval>) -> String {
    interval.map_or(String::new(), |i| format!(" [{:.3}, {:.3}]", i.low, i.high))
}

fn card(h: &mut String, title: &str, value: String, detail: String) {
    let _ = write!(
        h,
        "<div class=\"card\">{title}<b>{value}</b><small>{detail}</small></div>"
    );
}

fn summary(h: &mut String, r: &Report) {
    h.push_str("<h2>Summary</h2><div class=\"cards\">");
    let q = &r.quality;
    card(
        h,
        "Quality (fidelity)",
        num(q.overall),
        format!(
            "column shapes {} &middot; pair trends {}",
            num(q.column_shapes),
            num(q.column_pair_trends)
        ),
    );
    if let Some(u) = &r.utility {
        let (metric, syn, real, syn_i) = if u.task == "classification" {
            (
                "ROC AUC",
                u.synthetic.roc_auc,
                u.real.roc_auc,
                u.synthetic.roc_auc_interval,
            )
        } else {
            (
                "R\u{b2}",
                u.synthetic.r2,
                u.real.r2,
                u.synthetic.r2_interval,
            )
        };
        card(
            h,
            &format!("Utility: {metric} predicting {}", escape(&u.target)),
            num(syn),
            format!(
                "trained on synthetic{} &middot; on real {}",
                spread(syn_i),
                num(real)
            ),
        );
    }
    let p = &r.privacy;
    if p.dcr_overfitting_protection.is_some() {
        card(
            h,
            "DCR overfitting protection",
            num(p.dcr_overfitting_protection),
            format!(
                "{} repeats{} &middot; closer to train: {}",
                p.overfitting_repeats,
                spread(p.dcr_overfitting_protection_interval),
                num(p.closer_to_train_share)
            ),
        );
    }
    card(
        h,
        "Distance to closest record",
        num(p.dcr_synthetic_to_train_median),
        format!(
            "median synthetic &rarr; train; holdout &rarr; train {}",
            num(p.dcr_holdout_to_train_median)
        ),
    );
    card(
        h,
        "Exact copies of training rows",
        p.exact_copies.to_string(),
        format!("{:.2}% of synthetic rows", 100.0 * p.exact_copy_share),
    );
    if p.membership_inference_auc.is_some() {
        card(
            h,
            "Membership inference AUC",
            num(p.membership_inference_auc),
            format!(
                "0.5 = no leak{}",
                spread(p.membership_inference_auc_interval)
            ),
        );
    }
    card(
        h,
        "Detection AUC",
        num(r.detection.roc_auc),
        format!(
            "0.5 = indistinguishable{}",
            spread(r.detection.roc_auc_interval)
        ),
    );
    card(
        h,
        "Coverage",
        num(r.diversity.category_coverage),
        format!(
            "categories covered &middot; range {}",
            num(r.diversity.range_coverage)
        ),
    );
    h.push_str("</div>");
}

fn columns(h: &mut String, r: &Report, tables: &Tables) {
    let _ = write!(
        h,
        "<h2>Columns</h2><p class=\"legend\"><span style=\"background:{REAL}\"></span>real<span style=\"background:{SYNTHETIC}\"></span>synthetic</p><div class=\"cols\">"
    );
    for (i, c) in r.quality.columns.iter().enumerate() {
        let adherence = c
            .boundary_adherence
            .map(|a| format!("in real range {a:.3}"))
            .or(c
                .category_adherence
                .map(|a| format!("real categories {a:.3}")))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<div class=\"col\"><b>{}</b> <small>{} {}: {} &middot; missing {:.1}% / {:.1}% &middot; {}</small>",
            escape(&c.name),
            c.metric,
            if c.kind == synth_core::ColumnKind::Continuous {
                "(continuous)"
            } else {
                "(discrete)"
            },
            num(c.score),
            100.0 * c.missing_share_real,
            100.0 * c.missing_share_synthetic,
            adherence
        );
        match (&tables.real.columns[i], &tables.synthetic.columns[i]) {
            (Values::Numeric(real), Values::Numeric(syn)) => {
                histogram(h, real, syn, &tables.schema.columns[i].date_format)
            }
            (Values::Categorical(real), Values::Categorical(syn)) => {
                bars(h, real, syn, &tables.schema.columns[i].levels)
            }
            _ => {}
        }
        h.push_str("</div>");
    }
    h.push_str("</div>");
}

const W: f64 = 320.0;
const H: f64 = 120.0;

/// Two overlaid 30-bin histograms of shares over the real range (values outside it count in
/// the end bins); the range's ends are labelled as dates or times with `date_format`.
fn histogram(h: &mut String, real: &[f64], syn: &[f64], date_format: &Option<(DType, String)>) {
    const N: usize = 30;
    // No range (no values, or one value): nothing to draw.
    let Some((lo, hi)) = present_range(real).filter(|(lo, hi)| hi > lo) else {
        return;
    };
    let present = |v: &[f64]| {
        v.iter()
            .copied()
            .filter(|x| !x.is_nan())
            .collect::<Vec<_>>()
    };
    let (real, syn) = (present(real), present(syn));
    let shares = |v: &[f64]| {
        let mut counts = [0.0; N];
        for x in v {
            let bin = (((x - lo) / (hi - lo)) * N as f64)
                .floor()
                .clamp(0.0, (N - 1) as f64);
            counts[bin as usize] += 1.0;
        }
        counts.map(|c| c / v.len().max(1) as f64)
    };
    let (r, s) = (shares(&real), shares(&syn));
    let top = r.iter().chain(&s).copied().fold(1e-12, f64::max);
    let _ = write!(
        h,
        "<svg width=\"{W}\" height=\"{}\" role=\"img\">",
        H + 14.0
    );
    let width = W / N as f64;
    for (k, (a, b)) in r.iter().zip(&s).enumerate() {
        for (share, color) in [(a, REAL), (b, SYNTHETIC)] {
            let height = share / top * H;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{color}\" fill-opacity=\"0.5\"/>",
                k as f64 * width,
                H - height,
                width - 0.5
            );
        }
    }
    let _ = write!(
        h,
        "<text x=\"0\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{W}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        H + 12.0,
        axis_label(lo, date_format),
        H + 12.0,
        axis_label(hi, date_format)
    );
}

/// A histogram's end: a date or time in the column's format, else a short number.
fn axis_label(x: f64, date_format: &Option<(DType, String)>) -> String {
    date_format
        .as_ref()
        .and_then(|(dtype, format)| synth_data::temporal::format_value(x, format, *dtype, None))
        .map_or_else(|| short(x), |text| escape(&text))
}

fn short(x: f64) -> String {
    if x.abs() >= 1e5 || (x != 0.0 && x.abs() < 1e-2) {
        format!("{x:.2e}")
    } else {
        format!("{}", (x * 100.0).round() / 100.0)
    }
}

/// Side-by-side bars of category shares: the 12 commonest real categories, then the rest.
fn bars(h: &mut String, real: &[u32], syn: &[u32], levels: &[String]) {
    let count = |v: &[u32]| {
        let mut c = vec![0usize; levels.len() + 1];
        for &x in v {
            c[if x == MISSING {
                levels.len()
            } else {
                x as usize
            }] += 1;
        }
        c
    };
    let (rc, sc) = (count(real), count(syn));
    let mut order: Vec<usize> = (0..=levels.len()).filter(|&k| rc[k] + sc[k] > 0).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(rc[k]));
    let shown = order.len().min(12);
    let mut groups: Vec<(String, f64, f64)> = order[..shown]
        .iter()
        .map(|&k| {
            let name = levels.get(k).map_or("(missing)".to_string(), Clone::clone);
            (
                name,
                rc[k] as f64 / real.len() as f64,
                sc[k] as f64 / syn.len() as f64,
            )
        })
        .collect();
    if order.len() > shown {
        let rest = &order[shown..];
        let r: usize = rest.iter().map(|&k| rc[k]).sum();
        let s: usize = rest.iter().map(|&k| sc[k]).sum();
        groups.push((
            format!("{} others", rest.len()),
            r as f64 / real.len() as f64,
            s as f64 / syn.len() as f64,
        ));
    }
    let top = groups.iter().map(|g| g.1.max(g.2)).fold(1e-12, f64::max);
    let row = 16.0;
    let label = 110.0;
    let height = groups.len() as f64 * row;
    let _ = write!(h, "<svg width=\"{W}\" height=\"{height}\" role=\"img\">");
    for (k, (name, r, s)) in groups.iter().enumerate() {
        let y = k as f64 * row;
        let shown_name: String = name.chars().take(18).collect();
        let _ = write!(
            h,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\"><title>{}</title>{}</text>",
            label - 4.0,
            y + 11.0,
            escape(name),
            escape(&shown_name)
        );
        for (j, (share, color)) in [(r, REAL), (s, SYNTHETIC)].into_iter().enumerate() {
            let _ = write!(
                h,
                "<rect x=\"{label}\" y=\"{:.1}\" width=\"{:.1}\" height=\"6.5\" fill=\"{color}\"><title>{:.1}%</title></rect>",
                y + 1.5 + j as f64 * 7.0,
                share / top * (W - label - 4.0),
                100.0 * share
            );
        }
    }
    h.push_str("</svg>");
}

/// Colour of a score in [0, 1]: red (0) through yellow to green (1).
fn score_colour(score: f64) -> String {
    let s = score.clamp(0.0, 1.0);
    let hue = 120.0 * s.powi(3);
    format!("hsl({hue:.0},70%,55%)")
}

fn heatmap(h: &mut String, r: &Report) {
    let names: Vec<&str> = r.quality.columns.iter().map(|c| c.name.as_str()).collect();
    if names.len() < 2 {
        return;
    }
    let n = names.len();
    let cell = (560.0 / n as f64).clamp(14.0, 36.0);
    let label = 130.0;
    let size = label + cell * n as f64;
    let _ = write!(
        h,
        "<h2>Column pair trends</h2><p class=\"note\">Each cell is the pair's score (1 = the pair's relationship is reproduced); hover for the metric and value. Grey pairs are unrelated in the real data (|r| &le; 0.5, Cramér's V &le; 0.3) and, as in SDMetrics, do not count.</p><svg width=\"{}\" height=\"{}\" role=\"img\">",
        size + 10.0,
        size + 10.0
    );
    for (k, name) in names.iter().enumerate() {
        let shown: String = name.chars().take(18).collect();
        let pos = label + (k as f64 + 0.5) * cell;
        let _ = write!(
            h,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
             <text x=\"{pos:.1}\" y=\"{}\" font-size=\"10\" transform=\"rotate(-60 {pos:.1} {})\">{}</text>",
            label - 4.0,
            pos + 3.0,
            escape(&shown),
            label - 4.0,
            label - 4.0,
            escape(&shown)
        );
    }
    let index = |name: &str| names.iter().position(|n| *n == name).unwrap_or(0);
    for p in &r.quality.pairs {
        let (i, j) = (index(&p.column_1), index(&p.column_2));
        for (row, col) in [(i, j), (j, i)] {
            let fill = p.score.map_or("#ddd".to_string(), score_colour);
            let detail = match (p.score, p.real_correlation, p.real_association) {
                (Some(score), _, _) => format!("{score:.3}"),
                (None, Some(r), _) => format!("not counted: real correlation {r:.2}"),
                (None, _, Some(v)) => format!("not counted: real Cramér's V {v:.2}"),
                (None, None, None) => "undefined".to_string(),
            };
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} / {}: {} {detail}</title></rect>",
                label + col as f64 * cell,
                label + row as f64 * cell,
                cell - 1.0,
                cell - 1.0,
                escape(&p.column_1),
                escape(&p.column_2),
                p.metric,
            );
        }
    }
    h.push_str("</svg>");
}

fn loss_chart(h: &mut String, curves: &LossCurves) {
    const COLOURS: [&str; 6] = [REAL, SYNTHETIC, "#3a9a4a", "#9b4dca", "#c0392b", "#555"];
    let (w, ht, pad) = (640.0, 220.0, 40.0);
    let finite = |v: &f64| v.is_finite();
    let all: Vec<f64> = curves
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied().filter(finite))
        .collect();
    let (lo, hi) = present_range(&all).unwrap_or((0.0, 0.0));
    let first = curves.epochs.first().copied().unwrap_or(0.0);
    let last = curves.epochs.last().copied().unwrap_or(1.0);
    if hi <= lo || last <= first {
        h.push_str("<p class=\"note\">Too few epochs to draw.</p>");
        return;
    }
    let x = |e: f64| pad + (e - first) / (last - first) * (w - 2.0 * pad);
    let y = |v: f64| ht - pad + (lo - v) / (hi - lo) * (ht - 2.0 * pad) + pad / 2.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{ht}\" role=\"img\"><line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        ht - pad / 2.0,
        w - pad,
        ht - pad / 2.0
    );
    for (k, (name, values)) in curves.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = curves
            .epochs
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_finite())
            .map(|(&e, &v)| format!("{:.1},{:.1}", x(e), y(v)))
            .collect();
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            points.join(" "),
            w - pad + 4.0 - 120.0,
            14.0 + 13.0 * k as f64,
            escape(name)
        );
    }
    let _ = write!(
        h,
        "<text x=\"{pad}\" y=\"{ht}\" font-size=\"10\">epoch {first}</text><text x=\"{}\" y=\"{ht}\" font-size=\"10\" text-anchor=\"end\">epoch {last}</text>\
         <text x=\"2\" y=\"{}\" font-size=\"10\">{}</text><text x=\"2\" y=\"{}\" font-size=\"10\">{}</text></svg>",
        w - pad,
        y(hi) + 4.0,
        short(hi),
        y(lo),
        short(lo)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_names() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    /// Histogram ends of dates and times read as dates and times; numbers stay numbers.
    #[test]
    fn axis_labels_show_dates_in_their_format() {
        let date = Some((DType::Date, "%d/%m/%Y".to_string()));
        assert_eq!(axis_label(19_724.0, &date), "02/01/2024");
        let stamp = Some((DType::DatetimeUs, "%Y-%m-%d %H:%M".to_string()));
        assert_eq!(axis_label(1_704_164_400.0, &stamp), "2024-01-02 03:00");
        assert_eq!(axis_label(1_704_164_400.0, &None), "1.70e9");
        assert_eq!(axis_label(12.345, &None), "12.35");
    }

    #[test]
    fn score_colours_run_from_red_to_green() {
        assert_eq!(score_colour(0.0), "hsl(0,70%,55%)");
        assert_eq!(score_colour(1.0), "hsl(120,70%,55%)");
        assert_eq!(score_colour(7.0), "hsl(120,70%,55%)");
    }

    #[test]
    fn loss_curves_are_read_from_metrics_lines() {
        let text = "{\"epoch\":1,\"step\":10,\"seconds\":0.5,\"loss_g\":1.5,\"loss_d\":-0.2}\n\
                    not json\n{\"epoch\":2,\"step\":20,\"seconds\":0.4,\"loss_g\":1.0,\"eval_quality\":0.8}\n";
        let c = LossCurves::from_metrics_jsonl(text).unwrap();
        assert_eq!(c.epochs, [1.0, 2.0]);
        assert_eq!(c.series.len(), 2, "scores are not losses");
        let series = |name: &str| &c.series.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(series("loss_g"), &[1.5, 1.0]);
        assert_eq!(series("loss_d")[0], -0.2);
        assert!(series("loss_d")[1].is_nan(), "a line without the loss");
        assert!(LossCurves::from_metrics_jsonl("{}\n").is_none());
        let mut svg = String::new();
        loss_chart(&mut svg, &c);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
    }
}
