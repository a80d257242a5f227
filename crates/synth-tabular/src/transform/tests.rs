use super::*;
use polars::prelude::{IntoSeries, df};
use synth_core::Activation;
use synth_data::{ColumnOverrides, infer_meta, numeric_values, read_table};

fn adult() -> DataFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/adult.csv");
    read_table(&path).expect("assets/adult.csv")
}

fn fit(df: &DataFrame) -> DataTransformer {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    DataTransformer::fit(df, &meta, &TransformerConfig::default(), 7).unwrap()
}

#[test]
fn adult_round_trips_every_column() {
    let df = adult();
    let t = fit(&df);
    let meta = t.meta();
    assert_eq!(meta.columns.len(), 15);
    let encoded = t.encode(&df, 3).unwrap();
    assert_eq!((encoded.rows, encoded.width), (df.height(), t.width()));
    // every span is well formed: tanh scalars in [-1, 1], one-hot rows with exactly one 1
    let mut offset = 0;
    for span in t.spans() {
        for r in 0..encoded.rows {
            let row = &encoded.data[r * encoded.width + offset..][..span.width];
            match span.activation {
                Activation::Tanh => assert!(row[0].abs() <= 0.99),
                Activation::Softmax => assert_eq!(row.iter().filter(|v| **v == 1.0).count(), 1),
            }
        }
        offset += span.width;
    }
    let decoded = t.decode(&encoded, 0).unwrap();
    assert_eq!(decoded.get_column_names(), df.get_column_names());
    for c in &meta.columns {
        let (orig, back) = (
            df.column(&c.name).unwrap(),
            decoded.column(&c.name).unwrap(),
        );
        assert_eq!(orig.dtype(), back.dtype(), "{}", c.name);
        match c.kind {
            ColumnKind::Discrete => assert!(orig.equals_missing(back), "{}", c.name),
            ColumnKind::Continuous => {
                let (a, b) = (numeric_values(orig).unwrap(), numeric_values(back).unwrap());
                let tol = 1e-4 * (c.max.unwrap() - c.min.unwrap());
                let off = a
                    .iter()
                    .zip(&b)
                    .filter(|(x, y)| (x.unwrap() - y.unwrap()).abs() > tol)
                    .count();
                // Exact except where the spec's encoding cannot represent a value: the normalised
                // value is clipped at +-0.99 (3.96 standard deviations of the drawn mode), and
                // values whose own component was pruned (weight <= 0.005) fall back on a kept
                // mode. On Adult: fnlwgt 7 far-tail values, capital-loss 18, capital-gain 126
                // (its 132 values of 99999 form a component of weight just under 0.005).
                assert!(
                    off * 100 < a.len(),
                    "{}: {off} of {} values off",
                    c.name,
                    a.len()
                );
            }
            other => panic!("{}: Adult has no {other:?} column", c.name),
        }
    }
}

/// The non-missing values of a text column.
fn present_texts<'a>(df: &'a DataFrame, column: &str) -> Vec<&'a str> {
    df.column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect()
}

/// Dates (text and native), timestamps, times, keys and ignored columns, with missing values
/// in each: the encoding covers only the modelled columns, and decoding gives back every
/// column in its own type and format, dates within the data's range at the data's
/// precision, keys unique and numbered from the chunk's first row.
#[test]
fn dates_keys_and_ignored_columns_round_trip() {
    let n = 200;
    let day = |i: usize| (i % 60 != 7).then(|| format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28));
    let stamp = |i: usize| {
        format!(
            "2024-03-{:02} {:02}:{:02}:{:02}",
            1 + i % 28,
            i % 24,
            i % 60,
            (7 * i) % 60
        )
    };
    let df = df!(
        "tx_id" => (0..n).map(|i| format!("TX{:05}", 100 + i)).collect::<Vec<_>>(),
        "day" => (0..n).map(day).collect::<Vec<_>>(),
        "at" => (0..n).map(stamp).collect::<Vec<_>>(),
        "native" => Int32Chunked::from_iter_options("native".into(), (0..n).map(|i| (i % 9 != 0).then_some(19_000 + (i as i32 * 37) % 400))).into_date().into_series(),
        "note" => (0..n).map(|i| format!("free text {}", i % 3)).collect::<Vec<_>>(),
        "amount" => (0..n).map(|i| (i % 10 != 3).then_some((i * 137 % 10_000) as f64 / 100.0)).collect::<Vec<_>>()
    )
    .unwrap();
    let overrides = ColumnOverrides {
        ignore: vec!["note".into()],
        ..ColumnOverrides::default()
    };
    let meta = infer_meta(&df, &overrides).unwrap();
    let kinds: Vec<ColumnKind> = meta.columns.iter().map(|c| c.kind).collect();
    use ColumnKind::*;
    assert_eq!(
        kinds,
        [Key, Continuous, Continuous, Continuous, Ignored, Continuous]
    );
    let t = DataTransformer::fit(&df, &meta, &TransformerConfig::default(), 7).unwrap();
    assert_eq!(DataTransformer::from_json(&t.to_json()).unwrap(), t);
    let encoded = t.encode(&df, 1).unwrap();
    let decoded = t.decode(&encoded, 1_000).unwrap();
    assert_eq!(decoded.get_column_names(), df.get_column_names());
    for name in ["tx_id", "day", "at", "native", "note", "amount"] {
        assert_eq!(
            decoded.column(name).unwrap().dtype(),
            df.column(name).unwrap().dtype(),
            "{name}"
        );
    }
    let ids = present_texts(&decoded, "tx_id");
    assert_eq!((ids[0], ids[n - 1]), ("TX01100", "TX01299"));
    assert_eq!(decoded.column("note").unwrap().null_count(), n);
    // missing values come back where the data had them (the encoding keeps presence)
    for name in ["day", "native", "amount"] {
        let (a, b) = (df.column(name).unwrap(), decoded.column(name).unwrap());
        assert!(a.is_null().equal(&b.is_null()).all(), "{name}");
    }
    // text dates and timestamps keep their format; decoded values stay in the data's range
    let days = present_texts(&decoded, "day");
    assert!(
        days.iter()
            .all(|d| d.len() == 10 && ("2024-01-01"..="2024-12-28").contains(d)),
        "{days:?}"
    );
    let at = decoded.column("at").unwrap();
    assert!(
        at.str()
            .unwrap()
            .iter()
            .flatten()
            .all(|v| v.len() == 19 && v.starts_with("2024-03-"))
    );
    let off = df
        .column("at")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(at.str().unwrap().iter())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        off * 20 < n,
        "{off} of {n} timestamps changed in the round trip"
    );
}

#[test]
fn adult_column_kinds_and_modes() {
    let t = fit(&adult());
    let meta = t.meta();
    let continuous: Vec<&str> = meta
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Continuous)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        continuous,
        [
            "age",
            "fnlwgt",
            "education-num",
            "capital-gain",
            "capital-loss",
            "hours-per-week"
        ]
    );
    let spans = t.spans();
    // each continuous column: scalar then between 1 and 10 modes
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.activation == Activation::Tanh)
            .count(),
        6
    );
    assert!(spans.iter().all(|s| s.width >= 1 && s.width <= 42));
    let conditions = t.condition_spans();
    assert_eq!(conditions.len(), 9);
    let income = conditions.iter().find(|c| c.column == "income").unwrap();
    let mut labels = income.labels.clone();
    labels.sort();
    assert_eq!(labels, ["<=50K", ">50K"]);
}

#[test]
fn json_round_trip_is_identical() {
    let df = adult().head(Some(3000));
    let t = fit(&df);
    let back = DataTransformer::from_json(&t.to_json()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.encode(&df, 5).unwrap(), t.encode(&df, 5).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transformer.json");
    t.save(&path).unwrap();
    assert_eq!(DataTransformer::load(&path).unwrap(), t);
    std::fs::write(&path, &t.to_json()[..100]).unwrap();
    let msg = DataTransformer::load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("transformer.json") && msg.contains("line"),
        "{msg}"
    );
}

/// An edit of a transformer's JSON, for the damaged-file tests.
type Edit = fn(&mut serde_json::Value);

/// Every way a hand-edited or damaged `transformer.json` can parse yet be inconsistent is
/// refused on load, with a message that names the file and the column.
#[test]
fn inconsistent_transformers_are_refused() {
    let df = adult()
        .head(Some(2000))
        .select(["age", "workclass"])
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&fit(&df).to_json()).unwrap();
    let cases: [(Edit, &str, &str); 12] = [
        (
            |j| j["columns"][0]["meta"]["max"] = serde_json::Value::Null,
            "one bound",
            "age",
        ),
        (|j| j["columns"] = serde_json::json!([]), "no columns", ""),
        (
            |j| {
                let first = j["columns"][0].clone();
                j["columns"][1] = first;
            },
            "listed twice",
            "age",
        ),
        (
            |j| j["columns"][0]["meta"]["min"] = 1000.0.into(),
            "is above max",
            "age",
        ),
        (
            |j| j["columns"][0]["meta"]["kind"] = "discrete".into(),
            "encoded as continuous",
            "age",
        ),
        (
            |j| j["columns"][0]["encoding"]["mixture"]["kept"] = serde_json::json!([0, 99]),
            "kept modes",
            "age",
        ),
        (
            |j| j["columns"][0]["encoding"]["mixture"]["kept"] = serde_json::json!([]),
            "kept modes",
            "age",
        ),
        (
            |j| j["columns"][0]["encoding"]["mixture"]["stds"][0] = (-1.0).into(),
            "standard deviation",
            "age",
        ),
        (
            |j| j["columns"][0]["encoding"]["mixture"]["weights"] = serde_json::json!([1.0]),
            "weights",
            "age",
        ),
        (
            |j| j["columns"][1]["encoding"]["categories"] = serde_json::json!([]),
            "without categories",
            "workclass",
        ),
        (
            |j| j["columns"][1]["encoding"]["counts"] = serde_json::json!([1]),
            "counts",
            "workclass",
        ),
        (
            |j| {
                let c = &mut j["columns"][1]["encoding"]["categories"];
                c[1] = c[0].clone();
            },
            "listed twice",
            "workclass",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transformer.json");
    for (edit, expected, column) in cases {
        let mut damaged = json.clone();
        edit(&mut damaged);
        std::fs::write(&path, damaged.to_string()).unwrap();
        let err = DataTransformer::load(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, TabularError::InvalidTransformer { .. }),
            "{msg}"
        );
        assert!(
            msg.contains(expected)
                && (column.is_empty() || msg.contains(&format!("column `{column}`")))
                && msg.contains("transformer.json"),
            "{expected}: {msg}"
        );
    }
    // the untouched file still loads
    assert!(DataTransformer::from_json(&json.to_string()).is_ok());
}

#[test]
fn fit_and_encode_are_seeded() {
    let df = adult().head(Some(3000));
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    let config = TransformerConfig::default();
    let a = DataTransformer::fit(&df, &meta, &config, 1).unwrap();
    assert_eq!(a, DataTransformer::fit(&df, &meta, &config, 1).unwrap());
    assert_eq!(a.encode(&df, 9).unwrap(), a.encode(&df, 9).unwrap());
    assert_ne!(
        a.encode(&df, 9).unwrap(),
        a.encode(&df, 10).unwrap(),
        "mode draws depend on the seed"
    );
}

fn with_nulls() -> DataFrame {
    df!(
        "x" => [Some(1.0f64), None, Some(3.0), Some(f64::NAN), Some(5.0), Some(2.0), None, Some(4.0)],
        "n" => [Some(10i64), Some(20), None, Some(40), Some(50), Some(60), Some(70), Some(80)],
        "c" => [Some("a"), None, Some("b"), Some("a"), None, Some("b"), Some("a"), Some("c")]
    )
    .unwrap()
}

#[test]
fn nulls_round_trip_in_place() {
    let df = with_nulls();
    let t = fit(&df);
    // x and n have nulls: scalar + modes + a present/missing span each
    let conditions = t.condition_spans();
    let names: Vec<&str> = conditions.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(names, ["x", "n", "c"]);
    assert_eq!(conditions[0].labels, ["present", "missing"]);
    assert_eq!(conditions[2].labels, ["a", "", "b", "c"]);
    assert_eq!(conditions[0].counts, [5, 3], "NaN counts as missing");
    assert_eq!(conditions[2].counts, [3, 2, 2, 1]);
    let decoded = t.decode(&t.encode(&df, 0).unwrap(), 0).unwrap();
    for name in ["x", "n", "c"] {
        let (a, b) = (df.column(name).unwrap(), decoded.column(name).unwrap());
        let missing = |c: &Column| -> Vec<bool> {
            if c.dtype().is_primitive_numeric() {
                numeric_values(c)
                    .unwrap()
                    .iter()
                    .map(Option::is_none)
                    .collect()
            } else {
                c.is_null().iter().map(|v| v.unwrap()).collect()
            }
        };
        assert_eq!(missing(a), missing(b), "{name}");
    }
    assert!(
        df.column("c")
            .unwrap()
            .equals_missing(decoded.column("c").unwrap())
    );
    let n: Vec<Option<i64>> = decoded.column("n").unwrap().i64().unwrap().iter().collect();
    assert_eq!(
        n,
        [
            Some(10),
            Some(20),
            None,
            Some(40),
            Some(50),
            Some(60),
            Some(70),
            Some(80)
        ]
    );
}

#[test]
fn unseen_category_encodes_as_zeros() {
    let train = df!("c" => ["a", "b", "a"], "v" => [1.0f64, 2.0, 3.0]).unwrap();
    let t = fit(&train);
    let fresh = df!("c" => ["b", "zzz"], "v" => [1.5f64, 2.5]).unwrap();
    let e = t.encode(&fresh, 0).unwrap();
    let one_hot = |r: usize| e.data[r * e.width..r * e.width + 2].to_vec();
    assert_eq!(one_hot(0), [0.0, 1.0]);
    assert_eq!(one_hot(1), [0.0, 0.0]);
}

#[test]
fn dtypes_are_restored() {
    let df = df!(
        "flag" => [true, false, true, true],
        "small" => [1i32, 2, 1, 2],
        "f" => [0.5f32, 1.5, 2.5, 3.5],
        "u" => [100u32, 200, 300, 400]
    )
    .unwrap();
    let t = fit(&df);
    let decoded = t.decode(&t.encode(&df, 0).unwrap(), 0).unwrap();
    for (a, b) in df.columns().iter().zip(decoded.columns()) {
        assert_eq!(a.dtype(), b.dtype(), "{}", a.name());
    }
    assert!(
        df.column("flag")
            .unwrap()
            .equals(decoded.column("flag").unwrap())
    );
    assert!(
        df.column("small")
            .unwrap()
            .equals(decoded.column("small").unwrap())
    );
}

#[test]
fn constant_column_decodes_to_its_value() {
    let df =
        df!("k" => [7.25f64; 20], "g" => (0..20).map(|i| i as f64).collect::<Vec<_>>()).unwrap();
    let t = fit(&df);
    let decoded = t.decode(&t.encode(&df, 0).unwrap(), 0).unwrap();
    assert!(df.column("k").unwrap().equals(decoded.column("k").unwrap()));
}

#[test]
fn decoded_values_respect_training_range() {
    let df = adult().head(Some(2000));
    let t = fit(&df);
    let mut e = t.encode(&df, 0).unwrap();
    // push every scalar to the extreme: values beyond the data range must be clamped
    let mut offset = 0;
    for span in t.spans() {
        if span.activation == Activation::Tanh {
            for r in 0..e.rows {
                e.data[r * e.width + offset] = 1.0;
            }
        }
        offset += span.width;
    }
    let decoded = t.decode(&e, 0).unwrap();
    for c in t
        .meta()
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Continuous)
    {
        let v = numeric_values(decoded.column(&c.name).unwrap()).unwrap();
        assert!(
            v.iter()
                .flatten()
                .all(|x| *x >= c.min.unwrap() && *x <= c.max.unwrap()),
            "{}",
            c.name
        );
    }
}

/// Decoded amounts come back with the places the column has in the data (two here), also for
/// encoded values between the data's own, and within the data's range.
#[test]
fn decoded_numbers_keep_the_columns_decimals() {
    let amounts: Vec<f64> = (0..600)
        .map(|i| ((i * 7919) % 100_000) as f64 / 100.0)
        .collect();
    let df = df!("amount" => &amounts).unwrap();
    let t = fit(&df);
    assert_eq!(t.meta().columns[0].decimals, Some(2));
    let mut e = t.encode(&df, 1).unwrap();
    // nudge every normalised value so that it decodes between the data's values
    for r in 0..e.rows {
        e.data[r * e.width] = (e.data[r * e.width] * 0.97 + 0.0123).clamp(-1.0, 1.0);
    }
    let decoded = numeric_values(t.decode(&e, 0).unwrap().column("amount").unwrap()).unwrap();
    let (min, max) = (0.0, 999.99);
    let mut off_grid = 0;
    for x in decoded.iter().flatten() {
        assert_eq!(*x, synth_core::round_to(*x, 2), "{x}");
        assert!((min..=max).contains(x), "{x}");
        off_grid += usize::from(!amounts.contains(x));
    }
    assert!(
        off_grid > 300,
        "the values are new ones, rounded: {off_grid}"
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let t = fit(&df!("v" => [1.0f64, 2.0, 3.0]).unwrap());
    let err = t.encode(&df!("w" => [1.0f64]).unwrap(), 0).unwrap_err();
    assert!(err.to_string().contains("`v`"), "{err}");
    let err = t
        .encode(&df!("v" => [1.0f64, f64::NEG_INFINITY]).unwrap(), 0)
        .unwrap_err();
    assert!(
        matches!(err, TabularError::Infinite { row: 1, .. }),
        "{err}"
    );
    let wrong = EncodedTable {
        data: vec![0.0; 4],
        rows: 1,
        width: 4,
    };
    assert!(matches!(
        t.decode(&wrong, 0),
        Err(TabularError::WidthMismatch { .. })
    ));
}

/// Keys and missing shares of a damaged `transformer.json` are refused on load, naming the
/// column: a key shape of the wrong type or writing unbounded values, a missing share outside
/// [0, 1].
#[test]
fn damaged_keys_and_shares_are_refused() {
    let n = 40;
    let df = df!(
        "id" => (0..n).map(|i| format!("K{i:03}")).collect::<Vec<_>>(),
        "x" => (0..n).map(|i| i as f64 * 0.5).collect::<Vec<_>>()
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&fit(&df).to_json()).unwrap();
    assert_eq!(json["columns"][0]["meta"]["kind"], "key");
    let cases: [(Edit, &str, &str); 4] = [
        (
            |j| j["columns"][0]["meta"]["key"]["digits"] = 1_000_000_000.into(),
            "digits",
            "id",
        ),
        (
            |j| j["columns"][0]["meta"]["key"]["prefix"] = "x".repeat(5000).into(),
            "prefix",
            "id",
        ),
        (
            |j| {
                j["columns"][0]["meta"]["key"] = serde_json::json!({"shape": "integer", "start": 0})
            },
            "needs an integer column",
            "id",
        ),
        (
            |j| j["columns"][1]["meta"]["missing"] = 2.0.into(),
            "missing share",
            "x",
        ),
    ];
    for (edit, expected, column) in cases {
        let mut damaged = json.clone();
        edit(&mut damaged);
        let err = DataTransformer::from_json(&damaged.to_string())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected) && err.contains(&format!("column `{column}`")),
            "{expected}: {err}"
        );
    }
}

/// Rows are encoded in runs of `ENCODE_CHUNK_ROWS` in parallel: the matrix is the same on one
/// thread as on several, each run's rows land in their own place, and an error's row is
/// counted over the whole table.
#[test]
fn encoding_in_runs_is_independent_of_threads_and_keeps_rows() {
    let df = adult();
    let t = fit(&df);
    assert!(
        df.height() > ENCODE_CHUNK_ROWS,
        "Adult spans more than one run"
    );
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| t.encode(&df, 5).unwrap())
    };
    let one = on(1);
    assert_eq!(one, on(2));
    // categories decode back to their own rows on both sides of every run boundary
    let decoded = t.decode(&one, 0).unwrap();
    for c in t
        .meta()
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Discrete)
    {
        let (a, b) = (
            decoded.column(&c.name).unwrap(),
            df.column(&c.name).unwrap(),
        );
        assert!(a.equals_missing(b), "{}", c.name);
    }

    let n = ENCODE_CHUNK_ROWS + 100;
    let clean = df!("x" => (0..n).map(|i| (i % 97) as f64).collect::<Vec<_>>()).unwrap();
    let t = fit(&clean);
    let mut values: Vec<f64> = (0..n).map(|i| (i % 97) as f64).collect();
    values[ENCODE_CHUNK_ROWS + 7] = f64::INFINITY;
    let err = t.encode(&df!("x" => values).unwrap(), 0).unwrap_err();
    assert!(
        matches!(err, TabularError::Infinite { row, .. } if row == ENCODE_CHUNK_ROWS + 7),
        "{err}"
    );
}
